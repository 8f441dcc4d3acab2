"""scripts/images.sh: what a failed build says, and the images it leaves alone."""

import re
import subprocess
from pathlib import Path

from tests.deploy.support import build_tools, render_chart
from tests.e2e.containers.conftest import ROOT, engine_ready, run

IMAGES_SH = str(ROOT / "scripts" / "images.sh")


def test_an_unreachable_mirror_names_the_step_and_what_is_missing() -> None:
    engine_ready()
    before = run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", "todo-app/debian:bookworm-local"]
    )
    built = subprocess.run(  # noqa: S603
        [IMAGES_SH, "base"],
        env={
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "DEBIAN_MIRROR": "http://127.0.0.1:9",
            "TODO_REBUILD_BASE": "1",
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode != 0
    assert "base: mmdebstrap failed" in built.stderr
    assert "mirror http://127.0.0.1:9 must be reachable" in built.stderr
    assert "DEBIAN_MIRROR" in built.stderr
    # The image that was there is still there, unchanged.
    after = run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", "todo-app/debian:bookworm-local"]
    )
    assert after == before


def test_an_unknown_image_is_refused_with_the_list() -> None:
    built = subprocess.run(  # noqa: S603
        [IMAGES_SH, "mongodb"], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode != 0
    assert "no image called mongodb" in built.stderr
    assert "postgres" in built.stderr


def test_the_charts_gateway_config_runs_in_the_gateway_image_as_the_pod_runs_it(
    tmp_path: Path,
) -> None:
    """The nginx.conf the chart renders (values-local.yaml) passes `nginx -t` in the
    gateway image under the pod's constraints: the chart's user, a read-only root and
    only /tmp writable. The upstreams resolve to this container's loopback."""
    engine_ready()
    helm = build_tools().path("helm")
    docs = render_chart(helm, "values-local.yaml")
    [config] = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-gateway")
    ]
    text = config["data"]["nginx.conf"]
    (tmp_path / "nginx.conf").write_text(text)
    # Readable by the pod's user, as a ConfigMap volume is.
    tmp_path.chmod(0o755)
    (tmp_path / "nginx.conf").chmod(0o644)
    [deployment] = [
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-gateway")
    ]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    user = container["securityContext"]["runAsUser"]
    upstreams = set(re.findall(r"proxy_pass http://([^:;]+)", text))
    assert upstreams
    command = [c for c in container["command"] if c != "-g" and c != "daemon off;"]
    checked = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "docker",
            "run",
            "--rm",
            "--read-only",
            "--tmpfs",
            "/tmp",  # noqa: S108 - the pod's emptyDir
            "--user",
            f"{user}:{user}",
            "-v",
            f"{tmp_path}:/etc/todo-gateway:ro",
            *(f"--add-host={host}:127.0.0.1" for host in sorted(upstreams)),
            "--entrypoint",
            command[0],
            "todo-app/gateway:local",
            *command[1:],
            "-t",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
