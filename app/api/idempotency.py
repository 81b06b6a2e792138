"""`Idempotency-Key` for creating POSTs: a dependency any route opts into, plus the middleware
that records the response it produced.

    @router.post("/", dependencies=[Idempotent])

The first request with a key runs; the same key with the same request within
IDEMPOTENCY_TTL_SECONDS gets the first response again (status and body, with
`Idempotent-Replayed: true`) and starts nothing; with a different request, a 409. Keys are
scoped to the credential (a user's token, or one API key). Responses holding secrets (new
API keys, webhook secrets) must not opt in: the replayed body is stored.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import CurrentPrincipal, SessionDep
from app.api.rate_limit import credential_identity
from app.core.db import Database
from app.core.errors import AppError, InvalidInput
from app.services import idempotency as service

STATE_KEY = "idempotency_claim"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotentReplay(AppError):
    def __init__(self, replay: service.Replay) -> None:
        super().__init__("replayed")
        self.replay = replay


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "Any unique string (a UUID is a good choice). Retrying with the same key and body "
            "within 24 h returns the first response instead of running the request again."
        ),
    ),
]


async def idempotency(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKeyHeader = None,
) -> None:
    if idempotency_key is None:
        return
    if not _KEY_PATTERN.match(idempotency_key):
        raise InvalidInput.field(
            ["header", "Idempotency-Key"],
            "must be 1-255 printable ASCII characters without spaces",
            idempotency_key,
        )
    # The claim commits in a transaction of its own. Whatever this request's session has
    # begun so far ends first so that, on SQLite, the claim never waits on a lock held by
    # its own request.
    await session.commit()
    db: Database = request.app.state.db
    outcome = await service.begin(
        db,
        request.app.state.settings,
        credential=credential_identity(principal),
        key=idempotency_key,
        request_fingerprint=service.fingerprint(
            request.method,
            request.url.path,
            request.url.query,
            await request.body(),
        ),
    )
    if isinstance(outcome, service.Replay):
        raise IdempotentReplay(outcome)
    request.state.idempotency_claim = outcome


Idempotent = Depends(idempotency)


class IdempotencyMiddleware:
    """Holds back the response of a claimed request until it is recorded, so a client that
    has the response and retries always gets the replay."""

    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        finished = False

        def claim() -> service.Claim | None:
            return (scope.get("state") or {}).get(STATE_KEY)

        async def recording_send(message: Message) -> None:
            nonlocal start, finished
            current = claim()
            if current is None or finished:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                assert start is not None
                headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
                finished = True
                await service.finish(
                    self.db,
                    current,
                    start["status"],
                    b"".join(chunks),
                    headers.get("content-type"),
                )
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks)})
                return
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            current = claim()
            if current is not None and not finished:
                await service.release(self.db, current)


def install_idempotency(app: FastAPI, db: Database) -> None:
    async def replay(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, IdempotentReplay)
        return Response(
            content=exc.replay.body,
            status_code=exc.replay.status,
            media_type=exc.replay.content_type,
            headers={REPLAYED_HEADER: "true"},
        )

    app.add_exception_handler(IdempotentReplay, replay)
    app.add_middleware(IdempotencyMiddleware, db=db)
