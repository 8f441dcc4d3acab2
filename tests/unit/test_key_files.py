"""Signing keys generated on first start: several processes starting at once
(`todo serve --workers N`) end up with one key, and no process reads a
half-written file."""

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from services.shared.auth.keys import load_or_create_private_key, load_or_create_vapid_key


def _numbers(key: object) -> object:
    return key.private_numbers()  # type: ignore[attr-defined]


def test_processes_starting_together_share_the_first_key(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "keys" / "vapid-private.pem"
    starters = 6
    # Every starter has found no file and generated its own key before any writes one.
    all_generated = threading.Barrier(starters)
    generate = ec.generate_private_key

    def generate_together(curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
        key = generate(curve)
        all_generated.wait(timeout=30)
        return key

    monkeypatch.setattr(ec, "generate_private_key", generate_together)
    with ThreadPoolExecutor(starters) as pool:
        keys = list(pool.map(lambda _: load_or_create_vapid_key(path), range(starters)))
    first = _numbers(keys[0])
    assert all(_numbers(key) == first for key in keys)
    assert _numbers(load_or_create_vapid_key(path)) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no drafts left behind


def test_an_existing_key_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "jwt-private.pem"
    first = load_or_create_private_key(path)
    written = path.read_bytes()
    again = load_or_create_private_key(path)
    assert path.read_bytes() == written
    assert _numbers(again) == _numbers(first)
