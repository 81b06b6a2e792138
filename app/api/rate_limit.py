"""Rate limits per route group, counted where the caller is authenticated, and the middleware
that puts their headers on every response of a limited route (errors included, which a
dependency cannot reach)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import AppError
from app.core.rate_limit import RateLimiter
from app.services.auth import Principal

STATE_KEY = "rate_limit_headers"
LOGIN_GROUP = "login"
LOGIN_ADDRESS_GROUP = "login_address"

# Endpoint function -> the route group whose budget its requests draw from (see
# `app.api.main.limited`). Keyed by the endpoint because that is what routing leaves in the
# request's scope.
_GROUPS: dict[Callable[..., Any], str] = {}


class RateLimited(AppError):
    status_code = 429
    detail = "Rate limit exceeded"


def credential_identity(principal: Principal) -> str:
    """Idempotency keys belong to the credential: each API key has its own."""
    if principal.api_key is not None:
        return f"key:{principal.api_key.id}"
    return f"user:{principal.user.id}"


def register_group(endpoint: Callable[..., Any], group: str) -> None:
    known = _GROUPS.setdefault(endpoint, group)
    if known != group:
        raise ValueError(f"{endpoint.__qualname__} is limited as {known!r} already")


async def count_request(request: Request, principal: Principal) -> None:
    """Count the request against its route group's budget for the caller's account (its
    bearer tokens and API keys together); 429 past it.

    Called once per request by the principal dependency: a limited route always has a
    caller, and a separate dependency would be one more walk of FastAPI's solver."""
    group = _GROUPS.get(request.scope.get("endpoint"))  # type: ignore[arg-type]
    if group is not None:
        # Per account, whichever credential it uses: a budget per API key was multiplied by
        # minting keys.
        await _count(request, group, f"user:{principal.user.id}", "for this account")


async def count_login_attempt(request: Request, username: str) -> None:
    """Budget password guessing before any hash is verified (~170 ms of CPU each): per
    account and client address (a guesser elsewhere cannot lock the owner out), and per
    address across accounts (password spraying). Behind a proxy, the client address is the
    one it forwards (uvicorn's --forwarded-allow-ips)."""
    client = request.client.host if request.client else "-"
    # A digest: the username is the client's, of any length.
    account = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    await _count(request, LOGIN_ADDRESS_GROUP, client, "from this address")
    await _count(request, LOGIN_GROUP, f"{account}|{client}", "for this account from this address")


async def _count(request: Request, group: str, identity: str, whose: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    state = await limiter.hit(group, identity)
    if state is None:
        return
    headers = state.headers()
    request.state.rate_limit_headers = headers
    if not state.allowed:
        raise RateLimited(
            f"Rate limit exceeded: {state.limit} requests per window {whose}; "
            f"retry in {headers['Retry-After']} s",
            headers=headers,
        )


class RateLimitHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                extra: dict[str, str] | None = state.get(STATE_KEY)
                if extra:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    headers = list(message.get("headers", []))
                    for name, value in extra.items():
                        if name.lower().encode() not in present:
                            headers.append((name.lower().encode(), value.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
