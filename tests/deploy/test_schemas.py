"""Every rendered manifest and every file under k8s/ validates offline.

Kubernetes' own kinds against the schemas of the kubernetes-validate package, the CRDs of
Dapr, Strimzi and the Prometheus operator against the schemas kept in `schemas/`, with
kubeconform in strict mode: an unknown or misspelt field is an error.
"""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    CRD_SCHEMAS,
    KUBE_VERSIONS,
    OBS_VALUES_FILES,
    VALUES_FILES,
    Tools,
    k8s_manifest_files,
    kube_kinds,
    kubeconform_args,
    load_documents,
    render_chart,
    render_observability,
    write_standalone_kube_schemas,
)

# The custom resources the chart and k8s/ use, and the schema each must find.
CRD_KINDS = {
    ("dapr.io/v1alpha1", "Component"),
    ("dapr.io/v1alpha1", "Configuration"),
    ("dapr.io/v1alpha1", "Resiliency"),
    ("dapr.io/v2alpha1", "Subscription"),
    ("kafka.strimzi.io/v1", "Kafka"),
    ("kafka.strimzi.io/v1", "KafkaNodePool"),
    ("kafka.strimzi.io/v1", "KafkaTopic"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


def kubeconform(
    tools: Tools, docs: list[dict[str, Any]], kube_version: str, workdir: Path
) -> dict[str, Any]:
    schema_dir = write_standalone_kube_schemas(kube_kinds(docs), kube_version, workdir / "kube")
    manifest = workdir / "manifests.yaml"
    manifest.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    done = tools.run("kubeconform", *kubeconform_args(schema_dir, kube_version), str(manifest))
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"kubeconform said:\n{done.stdout}\n{done.stderr}")
    problems = [
        f"{r['kind']}/{r['name']}: {r['status']} {r.get('msg', '')}"
        for r in report["resources"]
        if r["status"] != "statusValid"
    ]
    assert not problems, "\n".join(problems)
    summary = report["summary"]
    assert summary["invalid"] == summary["errors"] == summary["skipped"] == 0, summary
    assert summary["valid"] == len(docs)
    return report


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_rendered_chart_validates(
    tools: Tools, values_file: str, kube_version: str, tmp_path: Path
) -> None:
    docs = list(render_chart(tools.path("helm"), values_file, kube_version))
    kubeconform(tools, docs, kube_version, tmp_path)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", OBS_VALUES_FILES)
def test_observability_chart_validates(
    tools: Tools, values_file: str, kube_version: str, tmp_path: Path
) -> None:
    """The collector pipeline, ServiceMonitor, PodMonitor, PrometheusRule and dashboards."""
    docs = list(render_observability(tools.path("helm"), values_file, kube_version))
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap"} <= {
        d["kind"] for d in docs
    }
    kubeconform(tools, docs, kube_version, tmp_path)


def test_chart_with_autoscaling_validates(tools: Tools, tmp_path: Path) -> None:
    docs = list(
        render_chart(
            tools.path("helm"),
            "values.yaml",
            KUBE_VERSIONS[-1],
            "--set",
            "autoscaling.enabled=true,observability.otlpEndpoint=http://otel-collector.monitoring.svc:4318",
        )
    )
    assert "HorizontalPodAutoscaler" in {d["kind"] for d in docs}
    kubeconform(tools, docs, KUBE_VERSIONS[-1], tmp_path)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_k8s_manifests_validate(tools: Tools, kube_version: str, tmp_path: Path) -> None:
    files = k8s_manifest_files()
    assert files, "no manifests under k8s/"
    docs = [doc for path in files for doc in load_documents(path.read_text())]
    kubeconform(tools, docs, kube_version, tmp_path)


def test_every_custom_resource_kind_has_a_kept_schema() -> None:
    for api_version, kind in CRD_KINDS:
        group, version = api_version.split("/")
        path = CRD_SCHEMAS / group / f"{kind.lower()}_{version}.json"
        schema = json.loads(path.read_text())
        assert schema["properties"]["kind"]["enum"] == [kind]
        assert schema["additionalProperties"] is False, f"{path.name} is not strict"


BAD_DOCUMENTS = [
    # A misspelt field of a Dapr subscription (v1alpha1's `route` in a v2alpha1 object).
    {
        "apiVersion": "dapr.io/v2alpha1",
        "kind": "Subscription",
        "metadata": {"name": "bad"},
        "spec": {"pubsubname": "p", "topic": "t", "route": "/events/t"},
    },
    # A Strimzi topic with partitions as a string.
    {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "bad"},
        "spec": {"partitions": "six"},
    },
    # A Deployment container field that does not exist.
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bad"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "readinessProbes": {}}]},
            },
        },
    },
    # A resource whose schema is nowhere: reported, not skipped.
    {"apiVersion": "example.com/v1", "kind": "Unknown", "metadata": {"name": "bad"}},
]


@pytest.mark.parametrize("doc", BAD_DOCUMENTS, ids=lambda d: d["kind"])
def test_validation_rejects_bad_documents(
    tools: Tools, doc: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(AssertionError):
        kubeconform(tools, [doc], KUBE_VERSIONS[-1], tmp_path)
