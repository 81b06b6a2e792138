"""Tokens, password hashing and API-key digests: the only module that knows the crypto libraries."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jose import JWTError, jwt
from passlib.context import CryptContext

from app.core.config import settings

# argon2 for new hashes; bcrypt still verifies older ones, which are re-hashed on login.
pwd_context = CryptContext(schemes=["argon2", "bcrypt"], deprecated="auto")

ALLOWED_JWT_ALGORITHMS = [settings.JWT_ALGORITHM]
API_KEY_PREFIX = "sk_"


class InvalidTokenError(Exception):
    pass


def password_version(changed_at: datetime | None) -> int:
    """What a token carries of its user's password state: the last change, in microseconds
    (0 if never). A change makes every token carrying an older one invalid, however close in
    time, and whatever the clocks of the replicas that issued and check it."""
    if changed_at is None:
        return 0
    return int(changed_at.timestamp() * 1_000_000)


def create_access_token(
    subject: str, expires_delta: timedelta, secret_key: str, password_changed_at: datetime | None
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": now,
        "exp": now + expires_delta,
        "pwv": password_version(password_changed_at),
    }
    return str(jwt.encode(claims, secret_key, algorithm=settings.JWT_ALGORITHM))


@dataclass(frozen=True)
class AccessToken:
    subject: str
    # `password_version` at issue; 0 for a token without it, older than any password change.
    password_version: int
    expires_at: float


# Verified tokens: a client sends the same token on every request, and checking its signature
# again (~0.1 ms) was a large part of an authenticated request. Only a token that verified is
# stored, under the key it verified with, and its expiry is still checked on every hit.
_VERIFIED_TOKENS: dict[tuple[str, str], AccessToken] = {}
_VERIFIED_TOKENS_MAX = 4096


def decode_access_token(token: str, secret_key: str) -> AccessToken:
    """The token's claims; the algorithm list is explicit so `none`/RS* are refused."""
    cached = _VERIFIED_TOKENS.get((secret_key, token))
    if cached is not None:
        if time.time() < cached.expires_at:
            return cached
        del _VERIFIED_TOKENS[(secret_key, token)]
    verified = _verify_access_token(token, secret_key)
    if len(_VERIFIED_TOKENS) >= _VERIFIED_TOKENS_MAX:
        _VERIFIED_TOKENS.clear()
    _VERIFIED_TOKENS[(secret_key, token)] = verified
    return verified


def _verify_access_token(token: str, secret_key: str) -> AccessToken:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALLOWED_JWT_ALGORITHMS:
            raise InvalidTokenError("algorithm not allowed")
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=ALLOWED_JWT_ALGORITHMS,
            options={"require_exp": True, "require_sub": True},
        )
    except JWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    subject = claims.get("sub")
    if not isinstance(subject, str):
        raise InvalidTokenError("missing subject")
    expires_at = claims.get("exp")
    if not isinstance(expires_at, int | float):
        raise InvalidTokenError("invalid expiry")
    version = claims.get("pwv", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidTokenError("invalid password version")
    return AccessToken(subject, version, float(expires_at))


def hash_password(password: str) -> str:
    return str(pwd_context.hash(password))


# passlib refuses longer secrets (an error, not a mismatch); no password we hash is longer.
MAX_PASSWORD_LENGTH = 4096
# bcrypt only ever read the first 72 bytes of a password; bcrypt >= 5 refuses longer ones.
BCRYPT_MAX_BYTES = 72


def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """Return (valid, new_hash) where new_hash is set when the stored hash is outdated."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False, None
    secret: str | bytes = password
    if pwd_context.identify(hashed, required=False) == "bcrypt":
        secret = password.encode()[:BCRYPT_MAX_BYTES]
    if not pwd_context.verify(secret, hashed):
        return False, None
    # An outdated hash is replaced by one of the whole password (not of what bcrypt read).
    return True, hash_password(password) if pwd_context.needs_update(hashed) else None


# A real hash of a random password: verifying against it costs the same as a real user,
# so an unknown email is not distinguishable from a wrong password by timing.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


async def hash_password_async(password: str) -> str:
    # argon2 takes ~170 ms of CPU here; run it off the event loop.
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password: str, hashed: str | None) -> tuple[bool, str | None]:
    if hashed is None:
        await asyncio.to_thread(verify_password, password, _DUMMY_HASH)
        return False, None
    return await asyncio.to_thread(verify_password, password, hashed)


def generate_api_key() -> tuple[str, str, str]:
    """Return (key, display prefix, digest). Keys carry 256 bits, so a plain SHA-256 suffices."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:10], api_key_digest(key)


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(18)
