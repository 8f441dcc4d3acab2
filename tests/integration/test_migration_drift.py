"""The table models and the migrations agree, on SQLite and on PostgreSQL.

An empty database is migrated to head, then alembic's autogenerate comparison
(what `alembic revision --autogenerate` would draft) must find nothing. A model
changed without a migration, or a migration without its model, fails here.
"""

from typing import Any

import pytest
import sqlalchemy as sa

from services.migrations.drift import differences_at
from services.migrations.runner import current_revision, head_revision, upgrade
from services.shared.tables import metadata


@pytest.fixture(scope="module")
def migrated_url(empty_database_url: str) -> str:
    upgrade(empty_database_url)
    return empty_database_url


def _describe(diffs: list[Any]) -> list[str]:
    """One line per difference: the operation and the table and column it names."""
    lines = []
    for diff in diffs:
        # a column's change comes as a list of tuples, a table's or index's as one tuple
        for op in diff if isinstance(diff, list) else [diff]:
            lines.append(" ".join(str(part) for part in op[:4] if isinstance(part, str)) or str(op))
            if op[0] in ("add_index", "remove_index", "add_table", "remove_table"):
                lines[-1] = f"{op[0]} {op[1].name}"
    return lines


async def test_the_models_match_the_migrated_database(migrated_url: str) -> None:
    assert await current_revision(migrated_url) == head_revision()

    assert _describe(await differences_at(migrated_url)) == []


async def test_a_model_that_differs_from_the_migrations_is_reported(migrated_url: str) -> None:
    models = sa.MetaData()  # a copy of the models, changed as a careless edit would
    for table in metadata.sorted_tables:
        copy = table.to_metadata(models)
        for index in copy.indexes:  # the copy leaves out what an index is marked with
            index.info.update(next(i.info for i in table.indexes if i.name == index.name))
    users = models.tables["users"]
    users.append_column(sa.Column("nickname", sa.String(40), nullable=True))
    tokens = models.tables["personal_access_tokens"]
    tokens.indexes.discard(next(i for i in tokens.indexes if i.name == "ix_pat_user"))
    models.tables["notifications"].c.title.type = sa.String(200)
    models.tables["notifications"].c.timezone.nullable = False
    models.tables["conversations"].c.message_count.server_default = sa.DefaultClause("1")

    found = _describe(await differences_at(migrated_url, models))

    assert sorted(found) == [
        "add_column users",
        "modify_default conversations message_count",
        "modify_nullable notifications timezone",
        "modify_type notifications title",
        "remove_index ix_pat_user",
    ]
