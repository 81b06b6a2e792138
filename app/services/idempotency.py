"""Idempotency keys: the first request with a key runs, its response is kept and replayed.

The claim is a row committed in its own transaction before the request's work starts; the
unique (credential, key) pair means that of several concurrent duplicates exactly one inserts
it and runs. The others wait for its response (bounded by IDEMPOTENCY_WAIT_SECONDS) and
replay it, or get a 409 while it is still running. A request that ends in a server error
frees the key so the client can retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from app.core.config import Settings
from app.core.db import Database
from app.core.errors import Conflict
from app.models.idempotency import IdempotencyRecord, IdempotencyStatus
from app.repositories.idempotency import IdempotencyRepository


@dataclass(frozen=True)
class Claim:
    """This request owns the key; its response is recorded when it is sent."""

    record_id: uuid.UUID


@dataclass(frozen=True)
class Replay:
    status: int
    body: str
    content_type: str | None


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """Same request, same fingerprint: JSON bodies are compared by content, not by layout."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    # By name only (a stable sort): a repeated parameter's last value is the one that counts,
    # so the order of its values is part of the request.
    query_items = sorted((part for part in query.split("&") if part), key=lambda p: p.split("=")[0])
    digest = hashlib.sha256()
    for part in (method.upper(), path, "&".join(query_items)):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(canonical)
    return digest.hexdigest()


def _reusable(record: IdempotencyRecord, now: datetime) -> bool:
    """An expired key, or one held by a request that died, may be claimed again."""
    if record.expires_at <= now:
        return True
    return (
        record.status == IdempotencyStatus.IN_PROGRESS
        and record.locked_until is not None
        and record.locked_until <= now
    )


async def begin(
    db: Database, settings: Settings, *, credential: str, key: str, request_fingerprint: str
) -> Claim | Replay:
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    pause = 0.02
    while True:
        async with db.sessionmaker() as session:
            repo = IdempotencyRepository(session)
            now = datetime.now(UTC)
            record = await repo.get(credential, key)
            if record is not None and _reusable(record, now):
                await repo.delete(record.id)
                await session.commit()
                record = None
            if record is None:
                claim = IdempotencyRecord(
                    credential=credential,
                    key=key,
                    fingerprint=request_fingerprint,
                    status=IdempotencyStatus.IN_PROGRESS,
                    locked_until=now + timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS),
                    expires_at=now + timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS),
                )
                try:
                    await repo.add(claim)
                    await session.commit()
                except IntegrityError:
                    # A concurrent duplicate claimed it first: look again.
                    await session.rollback()
                    continue
                return Claim(claim.id)
            if record.fingerprint != request_fingerprint:
                raise Conflict(
                    "This Idempotency-Key was already used with a different request; "
                    "use a new key for a new request"
                )
            if record.status == IdempotencyStatus.COMPLETED and record.response_status:
                return Replay(
                    record.response_status,
                    record.response_body or "",
                    record.response_content_type,
                )
        if time.monotonic() >= deadline:
            raise Conflict(
                "A request with this Idempotency-Key is still in progress; retry shortly",
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.25)


async def finish(db: Database, claim: Claim, status: int, body: bytes, content_type: Any) -> None:
    async with db.sessionmaker() as session:
        repo = IdempotencyRepository(session)
        # Only a success is replayed: an error changed nothing (its transaction was rolled
        # back) and may not be the answer a retry would get (a DNS failure, a membership
        # granted since, a 409 on a state that has moved on).
        if status >= 400:
            await repo.delete(claim.record_id)
        else:
            await repo.complete(
                claim.record_id,
                status,
                body.decode("utf-8", errors="replace"),
                str(content_type) if content_type else None,
            )
        await session.commit()


async def release(db: Database, claim: Claim) -> None:
    async with db.sessionmaker() as session:
        await IdempotencyRepository(session).delete(claim.record_id)
        await session.commit()


async def purge_expired(db: Database) -> int:
    async with db.sessionmaker() as session:
        removed = await IdempotencyRepository(session).purge_expired(datetime.now(UTC))
        await session.commit()
        return removed
