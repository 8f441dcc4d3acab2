"""The Dockerfile, read as text: `docker build` cannot run on the machines that run the
tests, so its steps were run by hand (see docs/deployment-guide.md); this keeps the
promises that matter from drifting."""

import json
import re

from tests.deploy.support import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for word, rest in instructions():
        if word == "FROM":
            found.append([])
        if found:
            found[-1].append((word, rest))
    return found


def test_multi_stage_on_slim_python_311() -> None:
    build, runtime = stages()
    assert "python:3.11-slim" in DOCKERFILE
    assert build[0][1].endswith("AS build")
    assert "pip wheel" in " ".join(rest for word, rest in build if word == "RUN")
    # The final stage copies the built environment, never the source tree or a compiler.
    copies = [rest for word, rest in runtime if word == "COPY"]
    assert copies == ["--from=build /opt/todo /opt/todo"]
    runs = " ".join(rest for word, rest in runtime if word == "RUN")
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in runs


def test_runs_as_a_numeric_non_root_user() -> None:
    *_, runtime = stages()
    users = [rest for word, rest in runtime if word == "USER"]
    assert users
    assert users[-1].split(":")[0].isdigit()
    assert users[-1].split(":")[0] != "0"


def test_healthcheck_and_default_command() -> None:
    *_, runtime = stages()
    healthcheck = " ".join(rest for word, rest in runtime if word == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    (cmd,) = [rest for word, rest in runtime if word == "CMD"]
    everywhere = "0.0.0.0"  # noqa: S104 - a container listens on all its interfaces
    assert json.loads(cmd) == ["todo", "serve", "--service", "all", "--host", everywhere]
    assert not [rest for word, rest in runtime if word == "ENTRYPOINT"]


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "tests", "charts", "k8s", ".env"):
        assert entry in ignored
