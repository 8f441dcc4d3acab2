"""compose.yaml keeps its promises without an engine: every image is local and never
pulled, only the gateway is published and only on loopback, every long-running
service restarts and has a health check or waits on one, and each sidecar shares its
service's network namespace."""

from pathlib import Path
from typing import Any

import yaml

from tests.deploy.support import REPO

COMPOSE = REPO / "compose.yaml"
APPS = ("task-api", "recurring-task", "notification", "audit")


def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return dict(loaded["services"])


def test_every_image_is_ours_and_never_pulled() -> None:
    for name, service in services().items():
        assert service["image"].startswith("todo-app/"), name
        assert service["pull_policy"] == "never", name
        assert "build" not in service, name


def test_only_the_gateway_is_published_and_only_on_loopback() -> None:
    published = {name: s["ports"] for name, s in services().items() if "ports" in s}
    assert list(published) == ["gateway"]
    [port] = published["gateway"]
    assert port == "127.0.0.1:${TODO_PORT:-8080}:8080"


def test_each_service_and_its_sidecar_share_one_held_namespace() -> None:
    all_services = services()
    for app in APPS:
        holder = f"{app}-net"
        assert all_services[app]["network_mode"] == f"service:{holder}"
        assert all_services[f"{app}-dapr"]["network_mode"] == f"service:{holder}"
        assert all_services[holder]["command"] == ["sleep", "infinity"]


def test_sidecar_app_ids_match_the_chart() -> None:
    values = yaml.safe_load((REPO / "charts" / "todo-app" / "values.yaml").read_text())
    all_services = services()
    for app in APPS:
        [arg] = all_services[f"{app}-dapr"]["command"]
        assert arg == f"--app-id={values['services'][app]['appId']}", app


def test_long_running_services_restart_and_start_in_order() -> None:
    all_services = services()
    for name, service in all_services.items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
    for app in APPS:
        depends = all_services[app]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["kafka"]["condition"] == "service_healthy"
        assert "healthcheck" in all_services[app]
    gateway = all_services["gateway"]["depends_on"]
    assert {gateway[s]["condition"] for s in ("task-api", "notification", "audit")} == {
        "service_healthy"
    }


def test_mounted_files_exist() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO / Path(source)).exists(), f"{name}: {source}"


def test_data_lives_in_named_volumes() -> None:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert set(loaded["volumes"]) == {"postgres-data", "redis-data", "kafka-data", "keys"}
