"""Salted password hashes for the app's named users: scrypt (memory-hard, in the standard library), stored as
``scrypt:N:r:p$SALT$HASH`` (base64), checked in constant time. Plain-text passwords are never stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
#: scrypt cost (N, r, p): 16 MiB of memory and ~0.1 s per check on this machine, RFC 7914's interactive-login level.
COST = (2**14, 8, 1)
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_CHARS = 10


class PasswordHashError(ValueError):
    """A stored hash that is not ``scrypt:N:r:p$SALT$HASH``, or a password too weak to hash."""


def hash_password(password: str, *, cost: tuple[int, int, int] = COST) -> str:
    """A new salted scrypt hash of ``password`` in the stored form; refuses passwords under
    :data:`MIN_PASSWORD_CHARS` characters."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordHashError(f"use a password of at least {MIN_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, cost)
    n, r, p = cost
    return f"{SCHEME}:{n}:{r}:{p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (compared in constant time); :class:`PasswordHashError`
    when ``stored`` is not a hash of ours."""
    cost, salt, expected = parse_hash(stored)
    return hmac.compare_digest(_scrypt(password, salt, cost), expected)


def parse_hash(stored: str) -> tuple[tuple[int, int, int], bytes, bytes]:
    """The cost, salt and digest of a stored hash; :class:`PasswordHashError` says what is malformed."""
    try:
        header, salt_text, digest_text = str(stored).split("$")
        scheme, *numbers = header.split(":")
        n, r, p = (int(number) for number in numbers)
        salt, digest = base64.b64decode(salt_text, validate=True), base64.b64decode(digest_text, validate=True)
    except ValueError:
        raise PasswordHashError("not a password hash of the form scrypt:N:r:p$SALT$HASH (make one with "
                                "`python -m core access hash-password`)") from None
    if scheme != SCHEME or n < 2**10 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or len(salt) < 8 or not digest:
        raise PasswordHashError(f"unsupported password hash parameters {header!r} (expected scrypt with N a power of 2 ≥ 1024)")
    return (n, r, p), salt, digest


def _scrypt(password: str, salt: bytes, cost: tuple[int, int, int]) -> bytes:
    n, r, p = cost
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 2**20, dklen=HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
