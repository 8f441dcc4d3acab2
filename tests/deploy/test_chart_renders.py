"""`helm lint --strict` and `helm template` for every values file of charts/todo-app."""

import json
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    CHART,
    KUBE_VERSIONS,
    VALUES_FILES,
    ToolError,
    Tools,
    of_kind,
    render_chart,
)


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_helm_lint_strict(tools: Tools, values_file: str) -> None:
    done = tools.run(
        "helm",
        "lint",
        "--strict",
        "--with-subcharts",
        "--kube-version",
        KUBE_VERSIONS[-1],
        str(CHART),
        "-f",
        str(CHART / values_file),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_helm_template(helm: str, values_file: str, kube_version: str) -> None:
    docs = render_chart(helm, values_file, kube_version)
    kinds = {d["kind"] for d in docs}
    assert {
        "Deployment",
        "Service",
        "Job",
        "Component",
        "Configuration",
        "Resiliency",
        "Subscription",
        "NetworkPolicy",
        "Pod",
    } <= kinds
    # The front door: an Ingress, except on the local cluster, which has no ingress
    # controller and gets the chart's gateway (test_chart_rules.py checks its routes).
    assert ("Ingress" in kinds) == (values_file != "values-local.yaml")
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "two resources of one kind share a name"


def test_chart_version_and_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == "2.0.0"
    assert chart["apiVersion"] == "v2"
    assert {d["name"] for d in chart["dependencies"]} == {"postgresql", "redis", "kafka"}
    for dependency in chart["dependencies"]:
        # Bundled, so lint and template need no chart repository.
        assert (CHART / "charts" / dependency["name"] / "Chart.yaml").is_file()
        assert dependency["condition"] == f"{dependency['name']}.enabled"
    assert (CHART / "templates" / "NOTES.txt").is_file()
    json.loads((CHART / "values.schema.json").read_text())


def test_values_schema_rejects_a_bad_value(helm: str) -> None:
    with pytest.raises(ToolError, match="services/task-api/port"):
        render_chart(helm, "values.yaml", KUBE_VERSIONS[-1], "--set", "services.task-api.port=http")


def test_production_needs_its_database_url_from_a_secret(helm: str) -> None:
    # Without the bundled PostgreSQL and without an existing Secret, the URL is required.
    with pytest.raises(ToolError, match=r"secrets\.databaseUrl"):
        render_chart(
            helm, "values-production.yaml", KUBE_VERSIONS[-1], "--set", "secrets.existingSecret="
        )


def test_programmatic_subscriptions_render_no_subscription_resources(helm: str) -> None:
    docs = render_chart(
        helm, "values.yaml", KUBE_VERSIONS[-1], "--set", "dapr.subscriptions.mode=programmatic"
    )
    assert of_kind(docs, "Subscription") == []
    for deployment in of_kind(docs, "Deployment"):
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        # The sidecar must then read the app's GET /dapr/subscribe.
        assert "dapr.io/disable-init-endpoints" not in annotations


def _container_env(docs: tuple[dict[str, Any], ...], service: str) -> dict[str, Any]:
    [deployment] = [
        d for d in of_kind(docs, "Deployment") if d["metadata"]["name"].endswith(service)
    ]
    [container] = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == service
    ]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_task_api_workers_become_its_worker_processes(helm: str) -> None:
    assert "WORKERS" not in _container_env(render_chart(helm, "values.yaml"), "task-api")
    docs = render_chart(
        helm, "values.yaml", KUBE_VERSIONS[-1], "--set", "services.task-api.workers=3"
    )
    assert _container_env(docs, "task-api")["WORKERS"] == "3"
    with pytest.raises(ToolError, match="only task-api runs as several worker processes"):
        render_chart(helm, "values.yaml", KUBE_VERSIONS[-1], "--set", "services.audit.workers=2")
    with pytest.raises(ToolError, match="services/task-api/workers"):
        render_chart(helm, "values.yaml", KUBE_VERSIONS[-1], "--set", "services.task-api.workers=0")
