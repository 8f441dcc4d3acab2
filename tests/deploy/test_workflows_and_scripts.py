"""actionlint on the GitHub workflows, shellcheck on the scripts, and what the workflows
and scripts/tools.sh promise."""

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import BASH, REPO, TOOLS_SCRIPT, Tools, run_command

WORKFLOWS = REPO / ".github" / "workflows"
SCRIPTS = sorted((REPO / "scripts").rglob("*.sh"))


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def test_actionlint(tools: Tools) -> None:
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {f.name for f in files} >= {"pr-checks.yaml", "ci-cd.yaml", "security-scan.yaml"}
    # actionlint also runs shellcheck over every `run:` script.
    done = tools.run("actionlint", "-shellcheck", tools.path("shellcheck"), *map(str, files))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO / "scripts")))
def test_shellcheck(tools: Tools, script: Path) -> None:
    done = tools.run("shellcheck", "--external-sources", str(script))
    assert done.returncode == 0, done.stdout + done.stderr


def test_deployment_scripts_exist_and_are_executable() -> None:
    for name in ("minikube-up.sh", "tools.sh"):
        path = REPO / "scripts" / name
        assert path.is_file(), f"no scripts/{name}"
        assert path.stat().st_mode & 0o111, f"scripts/{name} is not executable"


def test_tools_script_reports_everything_built(tools: Tools) -> None:
    done = run_command([BASH, str(TOOLS_SCRIPT), "--check"], timeout=60)
    assert done.returncode == 0, done.stderr
    printed = run_command([BASH, str(TOOLS_SCRIPT), "--print"], timeout=60)
    assert printed.stdout.strip() == str(tools.bin_dir)
    version = tools.run("helm", "version", "--short", check=True).stdout
    assert version.startswith("v3."), version


def test_pull_requests_run_lint_types_tests_and_chart_checks() -> None:
    jobs = workflow("pr-checks.yaml")["jobs"]
    steps = {job: " ".join(s.get("run", "") for s in spec["steps"]) for job, spec in jobs.items()}
    assert "ruff check" in steps["lint"]
    assert "mypy" in steps["lint"]
    assert set(jobs["tests"]["services"]) == {"postgres", "redis", "kafka"}
    assert "pytest" in steps["tests"]
    assert "scripts/tools.sh" in steps["chart"]
    assert "pytest tests/deploy" in steps["chart"]


def test_ci_cd_builds_scans_then_deploys_through_environments() -> None:
    spec = workflow("ci-cd.yaml")
    on = spec.get("on", spec.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(on["push"]["branches"]) == {"main", "develop"}
    jobs = spec["jobs"]
    gate = [
        s
        for s in jobs["scan"]["steps"]
        if "trivy-action" in s.get("uses", "") and s["with"].get("exit-code") == "1"
    ]
    assert gate
    assert gate[0]["with"]["severity"] == "CRITICAL"
    for job, branch, environment in (
        ("deploy-staging", "develop", "staging"),
        ("deploy-production", "main", "production"),
    ):
        assert branch in jobs[job]["if"]
        assert jobs[job]["environment"]["name"] == environment
        assert set(jobs[job]["needs"]) == {"build", "scan"}
        runs = " ".join(s.get("run", "") for s in jobs[job]["steps"])
        assert "helm upgrade --install" in runs
        assert "helm test" in runs
        assert "curl" in runs


def test_security_scan_is_scheduled() -> None:
    spec = workflow("security-scan.yaml")
    on = spec.get("on", spec.get(True))
    assert on["schedule"]
    runs = yaml.safe_dump(spec["jobs"])
    assert "trivy-action" in runs
    assert "pip-audit" in runs


def test_minikube_up_says_what_is_missing(tmp_path: Path) -> None:
    # A PATH with bash and the basics but no minikube.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "awk", "sed"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    done = run_command(
        [BASH, str(REPO / "scripts" / "minikube-up.sh")], timeout=60, env={"PATH": str(bin_dir)}
    )
    assert done.returncode == 1
    assert "missing: minikube kubectl" in done.stderr
    assert "minikube.sigs.k8s.io" in done.stderr
    usage = run_command([BASH, str(REPO / "scripts" / "minikube-up.sh"), "--help"], timeout=60)
    assert usage.returncode == 0
    assert "down" in usage.stdout
