"""What the deployment tests share: the tools, rendering the chart, offline schemas.

The tools (helm, kubeconform, actionlint, promtool, the otelcol-todo collector and
shellcheck) come from `scripts/tools.sh`, which builds them from the Go module proxy when
they are missing and caches them outside the repository. Kubernetes' own schemas come
from the `kubernetes-validate` package; the CRD schemas of Dapr, Strimzi and the
Prometheus operator are kept in `schemas/` (see `schemas/update.py`). Nothing is fetched
while validating.
"""

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "todo-app"
OBS_CHART = REPO / "charts" / "observability"
K8S = REPO / "k8s"
CRD_SCHEMAS = Path(__file__).resolve().parent / "schemas"
TOOLS_SCRIPT = REPO / "scripts" / "tools.sh"

VALUES_FILES = ["values.yaml", "values-local.yaml", "values-staging.yaml", "values-production.yaml"]
OBS_VALUES_FILES = ["values.yaml", "values-production.yaml"]
OBS_NAMESPACE = "monitoring"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and a current one.
KUBE_VERSIONS = ["1.29.0", "1.35.0"]
RELEASE = "todo-app"
NAMESPACE = "todo"

# A cold build compiles helm (about 4 minutes on 2 cores), promtool (about 8) and the
# collector (under 2) from source, see tools.sh.
TOOLS_TIMEOUT_SECONDS = 2400
TOOL_NAMES = ("helm", "kubeconform", "actionlint", "promtool", "otelcol-todo", "shellcheck")

# The four services: `todo serve --service <name>` and their Dapr app ids (docs/reference.md).
APP_IDS = {
    "task-api": "task-api",
    "recurring-task": "recurring-task-service",
    "notification": "notification-service",
    "audit": "audit-service",
}


class ToolError(RuntimeError):
    """A tool could not be built or did not run."""


def run_command(
    argv: list[str], *, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one of our own commands (a tool or a script of this repository) from the repo."""
    return subprocess.run(  # noqa: S603 - argv is built here from fixed names and paths
        argv, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )


BASH = shutil.which("bash") or "/bin/bash"


@dataclass(frozen=True)
class Tools:
    bin_dir: Path

    def path(self, name: str) -> str:
        return str(self.bin_dir / name)

    def run(
        self, name: str, *args: str, timeout: float = 300, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HELM_CACHE_HOME": str(self.bin_dir.parent / "helm-cache")}
        done = run_command([self.path(name), *args], timeout=timeout, env=env)
        if check and done.returncode != 0:
            raise ToolError(f"{name} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done


def build_tools() -> Tools:
    """Run scripts/tools.sh (building what is missing) and check every tool answers."""
    try:
        done = run_command([BASH, str(TOOLS_SCRIPT)], timeout=TOOLS_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(
            f"scripts/tools.sh did not finish in {TOOLS_TIMEOUT_SECONDS}s:\n{exc.stderr!r}"
        ) from exc
    if done.returncode != 0:
        raise ToolError(f"scripts/tools.sh failed ({done.returncode}):\n{done.stderr[-4000:]}")
    bin_dir = Path(done.stdout.strip().splitlines()[-1])
    missing = [name for name in TOOL_NAMES if not os.access(bin_dir / name, os.X_OK)]
    if missing:
        raise ToolError(f"scripts/tools.sh left no {', '.join(missing)} in {bin_dir}")
    return Tools(bin_dir)


# --- rendering ----------------------------------------------------------------------------


def load_documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@functools.cache
def render_chart(
    helm: str, values_file: str, kube_version: str = KUBE_VERSIONS[-1], *extra: str
) -> tuple[dict[str, Any], ...]:
    """`helm template` of the chart with one values file, hooks and tests included."""
    args = [
        helm,
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        kube_version,
        "-f",
        str(CHART / values_file),
        *extra,
    ]
    done = run_command(args, timeout=120)
    if done.returncode != 0:
        raise ToolError(f"helm template -f {values_file} failed:\n{done.stderr}")
    return tuple(load_documents(done.stdout))


@functools.cache
def render_observability(
    helm: str, values_file: str, kube_version: str = KUBE_VERSIONS[-1], *extra: str
) -> tuple[dict[str, Any], ...]:
    """`helm template` of charts/observability with one values file."""
    args = [
        helm,
        "template",
        "todo-app-observability",
        str(OBS_CHART),
        "--namespace",
        OBS_NAMESPACE,
        "--kube-version",
        kube_version,
        "-f",
        str(OBS_CHART / values_file),
        *extra,
    ]
    done = run_command(args, timeout=120)
    if done.returncode != 0:
        raise ToolError(
            f"helm template charts/observability -f {values_file} failed:\n{done.stderr}"
        )
    return tuple(load_documents(done.stdout))


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def pod_specs(docs: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload and bare pod."""
    for doc in docs:
        kind, name = doc.get("kind"), doc["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{kind}/{name}", doc["spec"]["template"]["spec"]
        elif kind == "CronJob":
            yield f"{kind}/{name}", doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield f"{kind}/{name}", doc["spec"]


def k8s_manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))


# --- Kubernetes schemas, offline ----------------------------------------------------------


def kubernetes_schema_root() -> Path:
    """The schemas bundled in the kubernetes-validate package (a dev dependency)."""
    try:
        import kubernetes_validate
    except ImportError as exc:  # a missing dev dependency is a failure, never a skip
        raise ToolError(
            "the kubernetes-validate package is missing: pip install -e '.[dev]'"
        ) from exc
    root = Path(kubernetes_validate.__file__).resolve().parent / "kubernetes-json-schema"
    if not root.is_dir():
        raise ToolError(f"kubernetes-validate has no schema folder at {root}")
    return root


def _inline(node: Any, defs: dict[str, Any], seen: frozenset[str]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and "#/$defs/" in ref:
        name = ref.split("#/$defs/", 1)[1]
        if name in seen:  # only recursive types (JSONSchemaProps) get here: accept anything
            return {}
        target = _inline(defs[name], defs, seen | {name})
        rest = {k: _inline(v, defs, seen) for k, v in node.items() if k != "$ref"}
        return {**target, **rest}
    return {k: _inline(v, defs, seen) for k, v in node.items()}


def write_standalone_kube_schemas(
    kinds: Iterable[tuple[str, str]], kube_version: str, target: Path
) -> Path:
    """Write self-contained strict schemas for (apiVersion, kind) pairs into target.

    kubernetes-validate's schemas point into a shared `_definitions.json` by absolute
    `$ref`s that kubeconform cannot follow, so each needed kind is inlined once into the
    file name kubeconform looks for: `<kind>-<group>-<version>.json`.
    """
    source = kubernetes_schema_root() / f"v{kube_version}-local-strict"
    if not source.is_dir():
        raise ToolError(f"kubernetes-validate has no schemas for Kubernetes {kube_version}")
    defs = json.loads((source / "_definitions.json").read_text())["$defs"]
    target.mkdir(parents=True, exist_ok=True)
    for api_version, kind in set(kinds):
        group, _, version = api_version.rpartition("/")
        suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
        name = f"{kind.lower()}{suffix}.json"
        if (target / name).exists() or not (source / name).exists():
            continue  # a kind with no schema is reported by kubeconform, not hidden here
        schema = _inline(json.loads((source / name).read_text()), defs, frozenset())
        (target / name).write_text(json.dumps(schema))
    return target


def kubeconform_args(kube_schema_dir: Path, kube_version: str) -> list[str]:
    return [
        "-strict",
        "-summary",
        "-output",
        "json",
        "-kubernetes-version",
        kube_version,
        "-schema-location",
        f"{kube_schema_dir}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
        "-schema-location",
        f"{CRD_SCHEMAS}/{{{{ .Group }}}}/"
        f"{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
    ]


def kube_kinds(docs: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["apiVersion"], d["kind"]) for d in docs if "apiVersion" in d and "kind" in d]
