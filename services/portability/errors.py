"""Exceptions of the portability package (import, export, calendar feed).

DomainError                      (services.errors)
 ├── InvalidInput
 │    └── ImportRefused          some records cannot be imported: nothing was (422)
 └── ImportTooLarge              the file is over the size or row limit (413)
"""

from services.errors import DomainError, FieldProblem, InvalidInput
from services.portability.schemas import ImportReport


class ImportRefused(InvalidInput):
    """The whole import was refused; `report` says why, record by record."""

    title = "Import refused"

    def __init__(self, report: ImportReport) -> None:
        problems = [FieldProblem(_field(p.row, p.field), p.message) for p in report.errors]
        first = problems[0] if problems else FieldProblem("file", "cannot be imported")
        super().__init__(first.field, first.message)
        self.problems = problems or [first]
        self.detail = (
            f"{len(report.errors)} problem(s) in the file; nothing was imported: "
            + "; ".join(f"{p.field}: {p.message}" for p in self.problems[:3])
        )
        self.report = report


class ImportTooLarge(DomainError):
    title = "Payload too large"


def _field(row: int | None, name: str) -> str:
    return name if row is None else f"row {row}: {name}"


__all__ = ["ImportRefused", "ImportTooLarge"]
