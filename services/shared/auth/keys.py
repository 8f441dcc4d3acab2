"""RS256 signing keys: loaded from a PEM file or generated on first start."""

import base64
import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.errors import AuthError

AUDIENCE = "todo-app"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def load_or_create_private_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written with owner-only permissions from the start.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


@dataclass(frozen=True)
class KeyRing:
    """The signing key, and the public keys tokens are verified with."""

    private_key: rsa.RSAPrivateKey
    issuer: str

    @property
    def kid(self) -> str:
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode().rstrip("=")

    def jwks(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": _b64(numbers.n),
                    "e": _b64(numbers.e),
                }
            ]
        }

    def issue(self, user_id: uuid.UUID, ttl: timedelta) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "iss": self.issuer,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, token: str) -> uuid.UUID:
        """The user id of a valid access token, or AuthError."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid:
                raise AuthError("the access token was signed by an unknown key: log in again")
            claims = jwt.decode(
                token,
                self.private_key.public_key(),
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iat"]},
                leeway=5,
            )
            return uuid.UUID(str(claims["sub"]))
        except jwt.ExpiredSignatureError:
            raise AuthError("the access token has expired: log in again") from None
        except (jwt.InvalidTokenError, ValueError):
            raise AuthError("the access token is not valid") from None
