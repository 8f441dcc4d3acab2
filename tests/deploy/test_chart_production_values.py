"""Production values of the chart: a PodDisruptionBudget for each Deployment
that runs more than one pod, images pinned by digest, the services' secrets read
from the Dapr secret store, and the database URL (and, without the secret store,
the optional keys) read as files of the Secret rather than as variables."""

from typing import Any

import pytest

from tests.deploy.support import (
    KUBE_VERSIONS,
    RELEASE,
    VALUES_FILES,
    ToolError,
    of_kind,
    pod_specs,
    render_chart,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4
OTHER_DIGEST = "sha256:" + "fedcba9876543210" * 4
SERVICES = ("task-api", "recurring-task", "notification", "audit")
SECRET_VARIABLES = ("DATABASE_URL", "SMTP_URL", "OPENAI_API_KEY")


def render(helm: str, values_file: str, *sets: str) -> tuple[dict[str, Any], ...]:
    extra = [arg for s in sets for arg in ("--set", s)]
    return render_chart(helm, values_file, KUBE_VERSIONS[-1], *extra)


def budgets(docs: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d["spec"] for d in of_kind(docs, "PodDisruptionBudget")}


def containers(
    docs: tuple[dict[str, Any], ...],
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workload name, container, pod spec) of every container and init container."""
    found = []
    for workload, spec in pod_specs(docs):
        name = workload.split("/", 1)[1]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            found.append((name, container, spec))
    return found


# --- PodDisruptionBudgets ---------------------------------------------------------------


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_every_deployment_with_more_than_one_pod_has_a_budget(helm: str, values_file: str) -> None:
    docs = render(helm, values_file)
    found = budgets(docs)
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(docs, "HorizontalPodAutoscaler")}
    for deployment in of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        several = deployment["spec"].get("replicas", 1) > 1 or name in scaled
        if name.endswith("-redis"):
            continue  # the bundled single-instance Redis of a local cluster
        assert (name in found) == several, (values_file, name)
        if several:
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            selector = found[name]["selector"]["matchLabels"]
            assert selector.items() <= labels.items(), name


def test_production_has_a_budget_per_service(helm: str) -> None:
    found = budgets(render(helm, "values-production.yaml"))
    assert set(found) == {f"{RELEASE}-{s}" for s in SERVICES}
    assert all(spec["minAvailable"] == 1 for spec in found.values())


def test_a_service_sets_its_own_budget(helm: str) -> None:
    found = budgets(
        render(
            helm,
            "values-production.yaml",
            "services.audit.podDisruptionBudget.minAvailable=null",
            "services.audit.podDisruptionBudget.maxUnavailable=50%",
            "services.notification.podDisruptionBudget.minAvailable=2",
            "services.recurring-task.podDisruptionBudget.enabled=false",
            "gateway.enabled=true",
            "gateway.replicas=2",
        )
    )
    assert found[f"{RELEASE}-audit"] == {
        "maxUnavailable": "50%",
        "selector": found[f"{RELEASE}-audit"]["selector"],
    }
    assert found[f"{RELEASE}-notification"]["minAvailable"] == 2
    assert f"{RELEASE}-recurring-task" not in found
    assert found[f"{RELEASE}-gateway"]["minAvailable"] == 1
    # The chart-wide switch turns them all off.
    assert (
        budgets(render(helm, "values-production.yaml", "podDisruptionBudget.enabled=false")) == {}
    )


@pytest.mark.parametrize(
    ("setting", "where"),
    [
        (
            "services.audit.podDisruptionBudget.maxUnavailable=1",
            "services/audit/podDisruptionBudget",
        ),
        (
            "services.audit.podDisruptionBudget.minAvailable=150%",
            "services/audit/podDisruptionBudget",
        ),
        (
            "services.audit.podDisruptionBudget.minAvailable=-1",
            "services/audit/podDisruptionBudget",
        ),
        ("services.audit.podDisruptionBudget.spare=1", "services/audit/podDisruptionBudget"),
        ("gateway.podDisruptionBudget.enabled=maybe", "gateway/podDisruptionBudget"),
    ],
)
def test_the_schema_refuses_a_bad_budget(helm: str, setting: str, where: str) -> None:
    # minAvailable and maxUnavailable together (the default has minAvailable),
    # a percentage over 100, a negative count, an unknown key, a non-boolean.
    with pytest.raises(ToolError, match=where):
        render(helm, "values-production.yaml", setting)


# --- images by digest -------------------------------------------------------------------


def images(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    return {f"{name}/{c['name']}": c["image"] for name, c, _ in containers(docs)}


def test_images_carry_their_digest(helm: str) -> None:
    plain = images(render(helm, "values-production.yaml"))
    assert all(i == "ghcr.io/todo-app/todo-app:0.1.0" for i in plain.values()), plain
    digest_only = images(render(helm, "values-production.yaml", f"image.digest={DIGEST}"))
    assert set(digest_only.values()) == {f"ghcr.io/todo-app/todo-app@{DIGEST}"}
    both = images(
        render(helm, "values-production.yaml", f"image.digest={DIGEST}", "image.tag=abc123")
    )
    assert set(both.values()) == {f"ghcr.io/todo-app/todo-app:abc123@{DIGEST}"}


def test_the_gateway_and_bundled_images_carry_theirs(helm: str) -> None:
    found = images(
        render(
            helm,
            "values-local.yaml",
            f"gateway.image.digest={DIGEST}",
            f"postgresql.image.digest={OTHER_DIGEST}",
            f"kafka.image.digest={DIGEST}",
        )
    )
    assert found[f"{RELEASE}-gateway/gateway"] == f"todo-app/gateway:local@{DIGEST}"
    [postgres] = [i for k, i in found.items() if k.endswith("-postgresql/postgresql")]
    assert postgres == f"todo-app/postgres:local@{OTHER_DIGEST}"
    [kafka] = [i for k, i in found.items() if "-kafka/" in k]
    assert kafka == f"todo-app/kafka:local@{DIGEST}"
    [redis] = [i for k, i in found.items() if "-redis/" in k]
    assert "@" not in redis  # no digest given: the tag alone


@pytest.mark.parametrize(
    "setting",
    [
        "image.digest=sha256:abc",
        f"image.digest={DIGEST.upper()}",
        "image.digest=md5:" + "0" * 32,
        f"gateway.image.digest={DIGEST}0",
        "redis.image.digest=latest",
    ],
)
def test_the_schema_refuses_a_malformed_digest(helm: str, setting: str) -> None:
    with pytest.raises(ToolError, match="digest"):
        render(helm, "values-local.yaml", setting)


# --- secrets as files -------------------------------------------------------------------


def mounted_files(container: dict[str, Any], spec: dict[str, Any]) -> dict[str, str]:
    """Path -> Secret key of every file a container sees from a Secret volume,
    all of them mounted read-only."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    files = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        assert mount.get("readOnly") is True, mount
        for item in secret.get("items", []):
            files[f"{mount['mountPath']}/{item['path']}"] = item["key"]
    return files


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


FILE_MODE = tuple(f"services.{s}.usesSecretStore=false" for s in SERVICES)
# Each service's secrets from the Dapr secret store (services/shared/settings.py STORE_KEYS).
STORE_VARIABLES = ("OPENAI_API_KEY", "SMTP_URL", "JWT_PRIVATE_KEY", "VAPID_PRIVATE_KEY")


def test_production_services_read_their_secrets_from_the_secret_store(helm: str) -> None:
    docs = render(helm, "values-production.yaml")
    (store,) = [
        c for c in of_kind(docs, "Component") if c["spec"]["type"] == "secretstores.kubernetes"
    ]
    served = 0
    for name, container, spec in containers(docs):
        if container["name"] not in SERVICES:
            continue
        served += 1
        env, files = env_of(container), mounted_files(container, spec)
        assert env["DAPR_SECRET_STORE"] == store["metadata"]["name"], name
        assert env["DAPR_SECRET_NAME"] == "todo-app-secrets", name  # secrets.existingSecret
        for variable in STORE_VARIABLES:
            assert variable not in env, (name, variable)
            assert f"{variable}_FILE" not in env, (name, variable)
        # Only the database URL is still a file of the Secret.
        assert set(files.values()) == {"database-url"}, (name, files)
    assert served == len(SERVICES)
    assert set(store["scopes"]) == {
        "task-api",
        "recurring-task-service",
        "notification-service",
        "audit-service",
    }


def test_with_the_bundled_database_the_services_mount_nothing_of_the_secret(
    helm: str,
) -> None:
    # The bundled database: nothing is left to mount from the Secret.
    docs = render(helm, "values-local.yaml")
    for name, container, spec in containers(docs):
        if container["name"] in SERVICES:
            assert "DAPR_SECRET_STORE" in env_of(container), name
            assert mounted_files(container, spec) == {}, name
            assert all("secret" not in v for v in spec.get("volumes", [])), name


def test_production_services_read_their_secrets_from_files(helm: str) -> None:
    docs = render(helm, "values-production.yaml", *FILE_MODE)
    seen = set()
    for name, container, spec in containers(docs):
        if container["name"] == "test":
            continue
        env, files = env_of(container), mounted_files(container, spec)
        assert "DAPR_SECRET_STORE" not in env, name
        for variable in SECRET_VARIABLES:
            assert variable not in env, (name, variable)  # never the value itself
            path = env.get(f"{variable}_FILE")
            if path is not None:
                assert files[path] == variable.lower().replace("_", "-"), (name, path)
                seen.add((name.removeprefix(f"{RELEASE}-"), container["name"], variable))
    for service in SERVICES:
        assert (service, service, "DATABASE_URL") in seen
        assert (service, "wait-for-schema", "DATABASE_URL") in seen
    assert ("migrations", "migrate", "DATABASE_URL") in seen
    assert ("notification", "notification", "SMTP_URL") in seen
    assert ("task-api", "task-api", "OPENAI_API_KEY") in seen
    assert not any(v == "SMTP_URL" and s != "notification" for s, _, v in seen)
    assert not any(v == "OPENAI_API_KEY" and s != "task-api" for s, _, v in seen)


def test_optional_keys_are_read_only_when_the_secret_has_them(helm: str) -> None:
    def variables(*sets: str) -> set[str]:
        docs = render(helm, "values-production.yaml", *FILE_MODE, *sets)
        return {
            v
            for _, c, _ in containers(docs)
            for v in env_of(c)
            if v.endswith("_URL_FILE") or v.endswith("KEY_FILE")
        }

    assert variables("secrets.existingSecretKeys=null") == {
        "DATABASE_URL_FILE",
        "JWT_PRIVATE_KEY_FILE",
        "VAPID_PRIVATE_KEY_FILE",  # the notification service's Web Push key
    }
    assert "SMTP_URL_FILE" in variables("secrets.existingSecretKeys={smtp-url}")
    # The chart's own Secret: the keys whose values are given.
    own = variables(
        "secrets.existingSecret=",
        "secrets.databaseUrl=postgresql+asyncpg://u:p@db:5432/todo",
        "secrets.openaiApiKey=sk-test",
    )
    assert "OPENAI_API_KEY_FILE" in own
    assert "SMTP_URL_FILE" not in own


def test_an_unknown_optional_key_is_refused(helm: str) -> None:
    with pytest.raises(ToolError, match="existingSecretKeys"):
        render(helm, "values-production.yaml", "secrets.existingSecretKeys={redis-url}")
