"""Password hashing with argon2id, off the event loop (it is slow on purpose).

The cost parameters are set here, explicitly, and nowhere else: argon2id with
RFC 9106's second recommended option (64 MiB of memory, 3 passes, 4 lanes).
Hashes made with other parameters still verify (argon2 stores them in the
hash) and are replaced by a hash with these at the next successful login.
"""

import contextlib

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 4
HASH_LENGTH = 32
SALT_LENGTH = 16

hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LENGTH,
    salt_len=SALT_LENGTH,
    type=Type.ID,
)
# Verifying against this when the email is unknown (or the account has no
# password) costs the same as a wrong password, so login timing does not
# reveal which emails have accounts.
_DUMMY = hasher.hash("not a real password")


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than today's."""
    try:
        return hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def _verify() -> bool:
        try:
            return hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            # A malformed stored hash still costs one real verification.
            if password_hash is not None and not password_hash.startswith("$argon2"):
                _burn(password)
            return False

    return await anyio.to_thread.run_sync(_verify)


def _burn(password: str) -> None:
    with contextlib.suppress(VerificationError):
        hasher.verify(_DUMMY, password)
