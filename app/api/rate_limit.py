"""Rate-limit dependency for route groups, and the middleware that puts its headers on
every response of a limited route (errors included, which a dependency cannot reach)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import CurrentPrincipal
from app.core.errors import AppError
from app.core.rate_limit import RateLimiter
from app.services.auth import Principal

STATE_KEY = "rate_limit_headers"


class RateLimited(AppError):
    status_code = 429
    detail = "Rate limit exceeded"


def credential_identity(principal: Principal) -> str:
    """Budgets (and idempotency keys) belong to the credential: each API key has its own."""
    if principal.api_key is not None:
        return f"key:{principal.api_key.id}"
    return f"user:{principal.user.id}"


def rate_limit(group: str) -> Any:
    """`dependencies=[rate_limit("generations")]` on a router or route."""

    async def check_rate_limit(request: Request, principal: CurrentPrincipal) -> None:
        limiter: RateLimiter = request.app.state.rate_limiter
        state = await limiter.hit(group, credential_identity(principal))
        if state is None:
            return
        headers = state.headers()
        request.state.rate_limit_headers = headers
        if not state.allowed:
            raise RateLimited(
                f"Rate limit exceeded: {state.limit} requests per window for this credential; "
                f"retry in {headers['Retry-After']} s",
                headers=headers,
            )

    return Depends(check_rate_limit)


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
