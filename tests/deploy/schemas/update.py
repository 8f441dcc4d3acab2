"""Regenerate the CRD JSON schemas kept in this folder (run by hand, never by the tests).

    .venv/bin/python tests/deploy/schemas/update.py

Each schema is the `openAPIV3Schema` of one served version of a CustomResourceDefinition
published by the project that owns the resource, turned into the JSON schema layout
kubeconform reads (`<group>/<kind>_<version>.json`) and made strict: an object that lists
its properties rejects any other property unless the CRD preserves unknown fields, so a
misspelt field fails validation instead of being silently dropped by the API server.

Where the CRDs come from (all through package registries):
- Dapr: the `charts/dapr/crds/` folder of the Go module github.com/dapr/dapr (`go mod download`).
- Prometheus operator: `example/prometheus-operator-crd/` of the Go module
  github.com/prometheus-operator/prometheus-operator.
- Strimzi: generated the way Strimzi's own build generates them, by running Strimzi's CRD
  generator (Maven Central: io.strimzi:crd-generator) over its API model classes
  (io.strimzi:api) with the arguments of the `api` module's pom.xml. Needs Java 21 or newer.

Needs `go`, `mvn` and a JDK 21+ (JAVA_HOME, or one under /usr/lib/jvm).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent

DAPR_VERSION = "v1.17.0"
PROMETHEUS_OPERATOR_VERSION = "v0.88.0"
STRIMZI_VERSION = "1.2.0"

DAPR_CRDS = ["components.yaml", "configuration.yaml", "resiliency.yaml", "subscription.yaml"]
PROMETHEUS_CRDS = [
    "monitoring.coreos.com_servicemonitors.yaml",
    "monitoring.coreos.com_prometheusrules.yaml",
    "monitoring.coreos.com_podmonitors.yaml",
]
# model class -> file name, as in Strimzi's api/pom.xml (generate-crd-co-install-v1).
STRIMZI_CRDS = {
    "io.strimzi.api.kafka.model.kafka.Kafka": "040-Crd-kafka.yaml",
    "io.strimzi.api.kafka.model.topic.KafkaTopic": "043-Crd-kafkatopic.yaml",
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool": "045-Crd-kafkanodepool.yaml",
}


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, **kwargs)  # noqa: S603 - fixed commands


def go_module_dir(module: str, version: str) -> Path:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    out = run([go, "mod", "download", "-json", f"{module}@{version}"], capture_output=True).stdout
    info = json.loads(out)
    if "Error" in info:
        raise SystemExit(f"go mod download {module}@{version}: {info['Error']}")
    return Path(info["Dir"])


def java21() -> str:
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    candidates += sorted(Path("/usr/lib/jvm").glob("*/bin/java"), reverse=True)
    for java in candidates:
        if not java.exists():
            continue
        banner = run([str(java), "-version"], capture_output=True).stderr
        found = re.search(r'version "(\d+)', banner)
        if found and int(found.group(1)) >= 21:
            return str(java)
    raise SystemExit("Strimzi's CRD generator needs Java 21 or newer (set JAVA_HOME)")


def strimzi_crds(workdir: Path) -> list[Path]:
    jars = workdir / "jars"
    for artifact in ("api", "crd-generator"):
        run(
            [
                shutil.which("mvn") or "mvn",
                "-q",
                "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
                f"-Dartifact=io.strimzi:{artifact}:{STRIMZI_VERSION}",
                f"-DoutputDirectory={jars}",
            ],
        )
    classpath = os.pathsep.join(str(p) for p in sorted(jars.glob("*.jar")))
    out = workdir / "strimzi"
    out.mkdir()
    run(
        [
            java21(),
            "-cp",
            classpath,
            "io.strimzi.crdgenerator.CrdGenerator",
            "--label",
            "app:strimzi",
            "--label",
            "strimzi.io/crd-install:true",
            "--target-kube",
            "1.16+",
            "--crd-api-version",
            "v1",
            "--api-versions",
            "v1",
            "--storage-version",
            "v1",
            "--yaml",
            *(f"{cls}={out / name}" for cls, name in STRIMZI_CRDS.items()),
        ],
    )
    return [out / name for name in STRIMZI_CRDS.values()]


def strict(node: Any) -> Any:
    """Drop descriptions (size) and close every object that lists its properties."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items() if k != "description" or not isinstance(v, str)}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def convert(crd_file: Path, source: str) -> list[Path]:
    written = []
    for crd in yaml.safe_load_all(crd_file.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served", True):
                continue
            schema = strict(version["schema"]["openAPIV3Schema"])
            schema["properties"]["apiVersion"] = {
                "type": "string",
                "enum": [f"{group}/{version['name']}"],
            }
            schema["properties"]["kind"] = {"type": "string", "enum": [kind]}
            schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
            schema["$comment"] = f"{kind} {group}/{version['name']} from {source}"
            target = HERE / group / f"{kind.lower()}_{version['name']}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            written.append(target)
    return written


def main() -> None:
    written: list[Path] = []
    dapr = go_module_dir("github.com/dapr/dapr", DAPR_VERSION)
    for name in DAPR_CRDS:
        written += convert(dapr / "charts/dapr/crds" / name, f"github.com/dapr/dapr@{DAPR_VERSION}")
    prom = go_module_dir(
        "github.com/prometheus-operator/prometheus-operator", PROMETHEUS_OPERATOR_VERSION
    )
    for name in PROMETHEUS_CRDS:
        written += convert(
            prom / "example/prometheus-operator-crd" / name,
            f"github.com/prometheus-operator/prometheus-operator@{PROMETHEUS_OPERATOR_VERSION}",
        )
    with tempfile.TemporaryDirectory() as tmp:
        for crd_file in strimzi_crds(Path(tmp)):
            written += convert(crd_file, f"io.strimzi:api:{STRIMZI_VERSION} (CrdGenerator)")
    for path in written:
        print(path.relative_to(HERE), file=sys.stderr)


if __name__ == "__main__":
    main()
