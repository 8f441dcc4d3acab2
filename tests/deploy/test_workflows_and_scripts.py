"""actionlint on the GitHub workflows, shellcheck on the scripts, and what the workflows
and scripts/tools.sh promise."""

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    BASH,
    REPO,
    TOOLS_SCRIPT,
    Tools,
    pod_specs,
    render_chart,
    run_command,
)

WORKFLOWS = REPO / ".github" / "workflows"
SCRIPTS = sorted((REPO / "scripts").rglob("*.sh"))
# What the kind job reads from `helm template … -f values-local.yaml` (grep -oE there).
LOCAL_IMAGE = re.compile(r"todo-app/([a-z0-9-]+):local")


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def runs(job: dict[str, Any]) -> str:
    """Every `run:` script of a job, one after the other."""
    return "\n".join(step.get("run", "") for step in job["steps"])


def actions(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The actions a job uses (name without the version) and their inputs."""
    return {
        step["uses"].split("@")[0]: step.get("with", {}) for step in job["steps"] if "uses" in step
    }


def pinned(script: str, pattern: str) -> str:
    """A version a script of ours pins (the first group of `pattern` in it)."""
    found = re.search(pattern, (REPO / "scripts" / script).read_text(), re.MULTILINE)
    assert found, f"scripts/{script}: {pattern}"
    return found.group(1)


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
    assert "make pytest" in steps["tests"]
    assert "scripts/tools.sh" in steps["chart"]
    assert "pytest tests/deploy" in steps["chart"]
    assert set(jobs) == {"lint", "tests", "chart", "chart-on-kind"}


def test_the_tests_job_runs_make_pytest_with_what_ci_true_requires() -> None:
    job = workflow("pr-checks.yaml")["jobs"]["tests"]
    script = runs(job)
    assert job["env"]["CI"] == "true"  # a skipped test fails the run
    # The suite starts (and crashes) its own PostgreSQL, Redis and Kafka: no service
    # containers holding their ports.
    assert "services" not in job
    make_lines = [line.strip() for line in script.splitlines() if re.search(r"\bmake\b", line)]
    assert make_lines
    # As root, like `make test`: the compose tests SIGKILL container processes.
    for line in make_lines:
        if not line.startswith("make .venv/"):
            assert line.startswith("as-root make "), line
    for command in ("make daprd", "scripts/docker.sh compose", "make services", "make images"):
        assert command in script
    assert "make pytest" in script
    assert "PYTEST_ARGS=--ignore=tests/deploy" in script
    assert "CHROMIUM=/usr/bin/google-chrome" in script
    # What `make pytest` hands the tests: the servers' URLs, daprd, Compose, Chromium.
    makefile = (REPO / "Makefile").read_text()
    [prerequisites] = re.findall(r"^pytest:(.*)$", makefile, re.MULTILINE)
    assert {"services", "$(CHROMIUM)", "daprd", "images"} <= set(prerequisites.split())
    recipe = makefile.split("\npytest:", 1)[1].split("\n\n", 1)[0]
    for variable in ("DAPRD=", "DOCKER_COMPOSE=", "CHROMIUM_PATH=$(CHROMIUM)", "env)"):
        assert variable in recipe
    # mmdebstrap builds the images' Debian base; Ubuntu's keyring needs apt's trust.
    assert "mmdebstrap debian-archive-keyring" in script
    assert "/etc/apt/trusted.gpg.d/" in script
    used = actions(job)
    assert "actions/setup-go" in used
    # daprd and the scheduler cached where scripts/dapr.sh builds them, keyed on how they are
    # built; every
    # restored cache is saved under the same path.
    restores = [s for s in job["steps"] if s.get("uses", "").startswith("actions/cache/restore@")]
    saves = [s for s in job["steps"] if s.get("uses", "").startswith("actions/cache/save@")]
    assert sorted(s["with"]["path"] for s in restores) == sorted(s["with"]["path"] for s in saves)
    [daprd] = [s for s in restores if "/dapr/" in s["with"]["path"]]
    assert daprd["with"]["path"] == "~/.cache/todo-app/dapr/*-v*"
    assert 'BIN="$CACHE/dapr/$NAME-v$DAPR_VERSION' in (REPO / "scripts" / "dapr.sh").read_text()
    assert "scripts/dapr.sh scheduler" in makefile.split("\ndaprd:", 1)[1].split("\n\n", 1)[0]
    assert "'scripts/dapr.sh', 'scripts/dapr/*'" in daprd["with"]["key"]


def test_the_chart_is_installed_on_kind_and_helm_tested() -> None:
    job = workflow("pr-checks.yaml")["jobs"]["chart-on-kind"]
    assert job["name"] == "Chart on kind: install and helm test"
    used = actions(job)
    assert used["helm/kind-action"]["version"] == "v0.30.0"
    # The helm of scripts/tools.sh, and Dapr at the release of scripts/dapr.sh.
    helm_version = pinned("tools.sh", r'^HELM_VERSION="\$\{HELM_VERSION:-(v[0-9.]+)\}"$')
    assert used["azure/setup-helm"]["version"] == helm_version
    dapr_version = pinned("dapr.sh", r"^DAPR_VERSION=([0-9.]+)$")
    script = runs(job)
    assert "helm repo add dapr https://dapr.github.io/helm-charts" in script
    assert f"helm install dapr dapr/dapr --version {dapr_version} " in script
    assert "--namespace dapr-system --create-namespace --wait" in script
    assert "scripts/images.sh base python" in script
    assert "kind load docker-image --name todo-app" in script
    assert "helm install todo-app charts/todo-app -f charts/todo-app/values-local.yaml" in script
    assert "--wait --timeout 10m" in script
    assert "helm test todo-app --logs" in script
    [failure] = [s for s in job["steps"] if s.get("if") == "failure()"]
    for command in ("helm status todo-app", "kubectl get pods -A", "kubectl describe pod"):
        assert command in failure["run"]
    assert "kubectl logs" in failure["run"]


def test_the_kind_job_builds_every_image_values_local_names(helm: str) -> None:
    docs = render_chart(helm, "values-local.yaml")
    names = set(LOCAL_IMAGE.findall(yaml.safe_dump_all(docs)))
    listed = run_command([BASH, str(REPO / "scripts" / "images.sh"), "--list"], timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert names, "values-local.yaml names no todo-app image"
    assert names <= set(listed.stdout.split()) - {"base", "python"}
    loaded = {f"todo-app/{name}:local" for name in names}
    for where, spec in pod_specs(docs):
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["image"] in loaded, f"{where}/{container['name']}"


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
