"""Fixtures of the deployment checks: the tools, the rendered chart, offline schemas.

A cold machine builds helm, kubeconform and actionlint from the Go module proxy inside
the first test that needs them (scripts/tools.sh; a few minutes), so these tests get a
longer timeout than the suite's default. A tool that cannot be built fails the tests
that need it with the reason; nothing here is skipped.
"""

from pathlib import Path

import pytest

from tests.deploy.support import TOOLS_TIMEOUT_SECONDS, ToolError, Tools, build_tools

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.timeout(TOOLS_TIMEOUT_SECONDS + 300))


@pytest.fixture(scope="session")
def tools() -> Tools:
    try:
        return build_tools()
    except ToolError as exc:
        pytest.fail(f"the deployment tools are not available: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def helm(tools: Tools) -> str:
    return tools.path("helm")
