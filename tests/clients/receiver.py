"""A local webhook receiver that verifies Standard Webhooks signatures, served on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import serve


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]
    verified: bool


@dataclass
class Receiver:
    url: str = ""
    secret: str | None = None
    # Status codes to answer, in order; 200 once they run out.
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)


@contextmanager
def webhook_receiver(script: list[int] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(script=list(script or []))

    async def hook(request: Request) -> JSONResponse:
        raw = await request.body()
        headers = dict(request.headers)
        verified = False
        if receiver.secret:
            try:
                Webhook(receiver.secret).verify(raw, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        receiver.received.append(Received(headers, json.loads(raw), verified))
        status = receiver.script.pop(0) if receiver.script else 200
        return JSONResponse({"ok": status < 300}, status_code=status)

    with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        receiver.url = f"{base}/hook"
        yield receiver
