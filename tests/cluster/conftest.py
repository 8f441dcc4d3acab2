"""The chart on the single-node cluster built on this machine (`make cluster-test`).

`make cluster-test` brings the cluster and Dapr's control plane up, builds and loads the
images, and runs these tests with TODO_CLUSTER_TEST=1, KUBECONFIG, HELM and KUBECTL set.
`make test` does not collect them (tests/conftest.py). A test installs the chart with
`values-local.yaml`, talks to it through its gateway's NodePort at 127.0.0.1 as people
do, and to single services through their cluster addresses, which this machine (the
node) reaches directly, and uninstalls it at the end.
"""

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "todo-app"
RELEASE = "todo-app"
# values-local.yaml, on any free NodePort: `make cluster-up`'s release may hold its usual one.
LOCAL_VALUES = ["-f", str(CHART / "values-local.yaml"), "--set", "gateway.service.nodePort=null"]


def tool(name: str) -> str:
    path = os.environ.get(name.upper(), "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{name.upper()}={path!r} is not an executable: run `make cluster-test`")
    return path


def run(argv: list[str], timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(  # noqa: S603 - our own tools
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


@dataclass
class Release:
    namespace: str
    helm: str
    kubectl: str

    def k(self, *args: str, timeout: float = 120) -> str:
        return run([self.kubectl, "-n", self.namespace, *args], timeout=timeout)

    def url(self, service: str) -> str:
        ip = self.k("get", "service", f"{RELEASE}-{service}", "-o", "jsonpath={.spec.clusterIP}")
        return f"http://{ip}:8000"

    def front_door(self) -> str:
        """The gateway's NodePort on this machine's loopback: where people reach the app."""
        port = self.k(
            "get", "service", f"{RELEASE}-gateway", "-o", "jsonpath={.spec.ports[0].nodePort}"
        )
        return f"http://127.0.0.1:{port}"

    def pods(self, component: str) -> list[dict[str, object]]:
        listed = json.loads(
            self.k(
                "get",
                "pods",
                "-l",
                f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}",
                "-o",
                "json",
            )
        )
        # Not the pods on their way out after a rollout or a kill.
        return [p for p in listed["items"] if not p["metadata"].get("deletionTimestamp")]

    def kill(self, selector: str) -> str:
        """Delete a pod at once (no grace period), as a crashed node process would go."""
        name = self.k("get", "pods", "-l", selector, "-o", "jsonpath={.items[0].metadata.name}")
        self.k("delete", "pod", name, "--grace-period=0", "--force", "--wait=false")
        return name

    def wait_ready(self, selector: str, gone: str, timeout: float = 300) -> None:
        """Until a pod other than `gone` matches `selector` and is Ready."""
        deadline = time.monotonic() + timeout
        while True:
            listed = json.loads(self.k("get", "pods", "-l", selector, "-o", "json"))
            for pod in listed["items"]:
                conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
                if pod["metadata"]["name"] != gone and conditions.get("Ready") == "True":
                    return
            assert time.monotonic() < deadline, f"no Ready pod for {selector}"
            time.sleep(1)

    def wait_serving(self, service: str, timeout: float = 120) -> None:
        """Until the Service answers /readyz: a new pod is Ready a moment before the
        Service's endpoints and this node's forwarding rules name it."""
        url = f"{self.url(service)}/readyz"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{service} does not answer {url}"
            time.sleep(0.5)

    def diagnose(self) -> str:
        """helm status, and the events and logs of every pod that is not Ready."""
        out = [run([self.helm, "status", RELEASE, "-n", self.namespace], check=False)]
        listed = json.loads(self.k("get", "pods", "-o", "json"))
        for pod in listed["items"]:
            name = pod["metadata"]["name"]
            ready = all(c.get("ready") for c in pod["status"].get("containerStatuses", []))
            if not ready:
                out.append(
                    run([self.kubectl, "-n", self.namespace, "describe", "pod", name], check=False)[
                        -3000:
                    ]
                )
                for c in pod["spec"]["containers"]:
                    out.append(
                        run(
                            [
                                self.kubectl,
                                "-n",
                                self.namespace,
                                "logs",
                                name,
                                "-c",
                                c["name"],
                                "--tail",
                                "40",
                            ],
                            check=False,
                        )
                    )
        return "\n".join(out)


@pytest.fixture(scope="module")
def release() -> Iterator[Release]:
    helm, kubectl = tool("helm"), tool("kubectl")
    namespace = f"todo-{uuid.uuid4().hex[:6]}"
    installed = Release(namespace, helm, kubectl)
    run([kubectl, "create", "namespace", namespace])
    try:
        done = subprocess.run(  # noqa: S603
            [
                helm,
                "install",
                RELEASE,
                str(CHART),
                "-n",
                namespace,
                *LOCAL_VALUES,
                "--wait",
                "--timeout",
                "8m",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"{done.stderr}\n{installed.diagnose()}"
        yield installed
    finally:
        run(  # gone already when the last test passed
            [helm, "uninstall", RELEASE, "-n", namespace, "--wait", "--timeout", "3m"],
            timeout=240,
            check=False,
        )
        run(
            [kubectl, "delete", "namespace", namespace, "--wait=true", "--timeout=180s"],
            timeout=240,
            check=False,
        )
