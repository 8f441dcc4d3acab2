"""RS256 signing keys, with rotation; and the Web Push (VAPID) key.

The key ring holds one signing key (the newest) and any number of previous
keys. Tokens are signed with the newest key and carry its `kid`; a token is
verified with the key its `kid` names, so tokens signed before a rotation keep
working until they expire. The JWKS lists every key of the ring. A token whose
`kid` is not in the ring, or that is not RS256, is refused.

Rotation for an operator: generate a new private key, point
`JWT_PRIVATE_KEY_FILE` at it, add the old file to `JWT_PREVIOUS_KEY_FILES`
(comma-separated; private or public PEM files), restart. Once the access token
lifetime has passed, drop the old file from the list.
"""

import base64
import hashlib
import os
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.errors import AuthError

AUDIENCE = "todo-app"
ALGORITHM = "RS256"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """A stable `kid`: a digest of the public key, the same on every replica."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode().rstrip("=")


def _parse(data: bytes, kind: type[Any], what: str, source: object) -> Any:
    """The private key of type `kind` in the PEM `data` read from `source`."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source} does not hold {what} in PEM ({exc})") from None
    if not isinstance(key, kind):
        raise ValueError(f"{source} does not hold {what}")
    return key


def _load_or_create(path: Path, kind: type[Any], what: str, generate: Any) -> Any:
    """The private key in the PEM file at `path`, of type `kind`; a new one from
    `generate()` written there (owner-only, never over an existing file) when missing.

    Several processes may start at once (`todo serve --workers N`): the new key is
    written whole to a private file first and then linked into place, so the first
    link wins and every other process reads that key, never a half-written file."""
    if path.exists():
        return _parse(path.read_bytes(), kind, what, path)
    key = generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    # Written with owner-only permissions from the start.
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.link(draft, path)
    except FileExistsError:  # another process linked its key first: use that one
        return _parse(path.read_bytes(), kind, what, path)
    finally:
        draft.unlink(missing_ok=True)
    return key


def load_or_create_private_key(path: Path) -> rsa.RSAPrivateKey:
    key: rsa.RSAPrivateKey = _load_or_create(
        path,
        rsa.RSAPrivateKey,
        "an RSA private key",
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    return key


def private_key_from_pem(data: bytes, source: str) -> rsa.RSAPrivateKey:
    """The RSA signing key in PEM `data` (from a secret store: `source` names it)."""
    key: rsa.RSAPrivateKey = _parse(data, rsa.RSAPrivateKey, "an RSA private key", source)
    return key


def load_or_create_vapid_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The Web Push (VAPID, RFC 8292) signing key: ECDSA on P-256."""
    key: ec.EllipticCurvePrivateKey = _load_or_create(
        path,
        ec.EllipticCurvePrivateKey,
        "an EC P-256 private key",
        lambda: ec.generate_private_key(ec.SECP256R1()),
    )
    return _p256(key, path)


def vapid_key_from_pem(data: bytes, source: str) -> ec.EllipticCurvePrivateKey:
    """The VAPID key in PEM `data` (from a secret store: `source` names it)."""
    what = "an EC P-256 private key"
    key: ec.EllipticCurvePrivateKey = _parse(data, ec.EllipticCurvePrivateKey, what, source)
    return _p256(key, source)


def _p256(key: ec.EllipticCurvePrivateKey, source: object) -> ec.EllipticCurvePrivateKey:
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{source} holds an EC key on {key.curve.name}, not P-256")
    return key


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """The public half of a previous key: its PEM may hold the private key
    (the file the operator just rotated away from) or only the public key."""
    data = path.read_bytes()
    loaded: object
    if b"PRIVATE KEY" in data:
        loaded = serialization.load_pem_private_key(data, password=None).public_key()
    else:
        loaded = serialization.load_pem_public_key(data)
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise ValueError(f"{path} does not hold an RSA key")
    return loaded


def parse_key_files(value: str | None) -> list[Path]:
    """`JWT_PREVIOUS_KEY_FILES`: paths separated by commas (or the OS path separator)."""
    if not value:
        return []
    parts = value.replace(os.pathsep, ",").split(",")
    return [Path(p.strip()) for p in parts if p.strip()]


@dataclass(frozen=True)
class KeyRing:
    """The signing key, and every public key tokens are verified with."""

    private_key: rsa.RSAPrivateKey
    issuer: str
    previous: tuple[rsa.RSAPublicKey, ...] = ()
    _by_kid: Mapping[str, rsa.RSAPublicKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        current = self.private_key.public_key()
        ring = {key_id(k): k for k in self.previous}
        ring[key_id(current)] = current
        object.__setattr__(self, "_by_kid", ring)

    @classmethod
    def load(
        cls,
        private_key_file: Path,
        issuer: str,
        previous_files: Iterable[Path] = (),
        *,
        private_key: rsa.RSAPrivateKey | None = None,
    ) -> "KeyRing":
        """The ring of `private_key` (from a secret store), else of the key in
        `private_key_file` (generated there when missing), and the previous keys."""
        return cls(
            private_key or load_or_create_private_key(private_key_file),
            issuer,
            tuple(load_public_key(p) for p in previous_files),
        )

    @property
    def kid(self) -> str:
        """The `kid` of the signing key."""
        return key_id(self.private_key.public_key())

    @property
    def kids(self) -> list[str]:
        return list(self._by_kid)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, public in self._by_kid.items():
            numbers = public.public_numbers()
            keys.append(
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": ALGORITHM,
                    "kid": kid,
                    "n": _b64(numbers.n),
                    "e": _b64(numbers.e),
                }
            )
        # The signing key first: clients that take the first key get the right one.
        keys.sort(key=lambda k: k["kid"] != self.kid)
        return {"keys": keys}

    def issue(
        self,
        user_id: uuid.UUID,
        ttl: timedelta,
        *,
        audience: str = AUDIENCE,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token for `audience`: the API's (`AUDIENCE`) unless told,
        or an MCP resource URL for a token issued over OAuth."""
        now = datetime.now(UTC)
        claims = {
            **(extra or {}),
            "sub": str(user_id),
            "iss": self.issuer,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def verify(self, token: str) -> uuid.UUID:
        """The user id of a valid access token for the API, or AuthError."""
        return uuid.UUID(str(self.claims(token, [AUDIENCE])["sub"]))

    @staticmethod
    def expiry(token: str) -> float | None:
        """The `exp` (Unix time) of a token already verified, else None."""
        try:
            exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        except jwt.PyJWTError:
            return None
        return float(exp) if isinstance(exp, int | float) else None

    def claims(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """The claims of a valid token whose audience is one of `audiences`, or AuthError."""
        try:
            header = jwt.get_unverified_header(token)
            # Only RS256 is accepted: "none" and HMAC with the public key as the
            # secret (algorithm confusion) are refused before any key is used.
            if header.get("alg") != ALGORITHM:
                raise AuthError("the access token is not valid")
            public = self._by_kid.get(str(header.get("kid")))
            if public is None:
                raise AuthError("the access token was signed by an unknown key: log in again")
            claims: dict[str, Any] = jwt.decode(
                token,
                public,
                algorithms=[ALGORITHM],
                audience=audiences,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iat"]},
                leeway=5,
            )
            uuid.UUID(str(claims["sub"]))
            return claims
        except jwt.ExpiredSignatureError:
            raise AuthError("the access token has expired: log in again") from None
        except (jwt.InvalidTokenError, ValueError):
            raise AuthError("the access token is not valid") from None
