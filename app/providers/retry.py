"""The one retry policy for provider calls: 408/409/429/5xx and connection failures are retried
with exponential backoff and jitter; everything else fails at once (fal-client's own policy)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from app.core.backoff import jittered_backoff
from app.providers.base import ErrorCategory, ProviderError

if TYPE_CHECKING:
    from app.core.config import Settings

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429})


def is_retryable_status(status_code: int) -> bool:
    return status_code in RETRYABLE_STATUS or 500 <= status_code <= 599


class RetryableProviderError(ProviderError):
    """A failure worth another attempt; raised as-is once the attempts are used up."""

    def __init__(
        self,
        message: str,
        category: ErrorCategory = ErrorCategory.PROVIDER_ERROR,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, category)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            attempts=max(1, settings.PROVIDER_RETRY_ATTEMPTS),
            base_delay=settings.PROVIDER_RETRY_BASE_DELAY_SECONDS,
            max_delay=settings.PROVIDER_RETRY_MAX_DELAY_SECONDS,
        )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        wait = jittered_backoff(attempt, self.base_delay, self.max_delay)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


async def with_retries(operation: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Run `operation`, retrying while it raises `RetryableProviderError`."""
    for attempt in range(policy.attempts):
        try:
            return await operation()
        except RetryableProviderError as exc:
            if attempt + 1 >= policy.attempts:
                raise
            await asyncio.sleep(policy.delay(attempt, exc.retry_after))
    raise AssertionError("unreachable: attempts >= 1")  # pragma: no cover
