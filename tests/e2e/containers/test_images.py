"""scripts/images.sh: what a failed build says, and the images it leaves alone."""

import subprocess

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
