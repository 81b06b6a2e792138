"""Rate limits per caller and route group, on the `limits` library.

Fixed windows: one atomic increment per request, and an exact reset time for the
`X-RateLimit-Reset` header. Counters live in memory when embedded and in Redis when
`REDIS_URL` is set, so every API replica draws from the same budget.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage, Storage

from app.core.config import Settings

logger = logging.getLogger(__name__)
DEFAULT_GROUP = "default"


@dataclass(frozen=True)
class RateLimitState:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(self.reset_after, 1))
        return headers


def parse_groups(groups: dict[str, str]) -> dict[str, list[RateLimitItem]]:
    # Settings validated every value already.
    return {name: parse_many(value) for name, value in groups.items()}


class CounterStorage(Protocol):
    """What the limiter needs of a storage: `limits`' async storages have it."""

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int: ...

    async def get_expiry(self, key: str) -> float: ...


class InProcessCounters:
    """Fixed-window counters of one process, as `limits`' MemoryStorage keeps them (a window
    starts at its first hit and lasts `expiry` seconds), without its per-hit cost: it starts
    a task sweeping every key on nearly every increment. Here an expired window restarts when
    its key is next hit, and expired keys are dropped at most once per SWEEP_SECONDS."""

    SWEEP_SECONDS = 60.0

    def __init__(self) -> None:
        # key -> (count, time the window ends)
        self._windows: dict[str, tuple[int, float]] = {}
        self._next_sweep = 0.0

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        count, ends = self._windows.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + expiry
            if now >= self._next_sweep:
                self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
                self._next_sweep = now + self.SWEEP_SECONDS
        count += amount
        self._windows[key] = (count, ends)
        return count

    async def get_expiry(self, key: str) -> float:
        window = self._windows.get(key)
        return time.time() if window is None else window[1]


def create_storage(settings: Settings) -> CounterStorage:
    if settings.REDIS_URL:
        # redis-py is already a dependency; `limits` defaults to coredis otherwise.
        storage: Storage = RedisStorage(
            f"async+{settings.REDIS_URL}", implementation="redispy", key_prefix="ratelimit"
        )
        return storage
    return InProcessCounters()


class RateLimiter:
    # How often an outage of the shared storage is reported while it lasts.
    OUTAGE_REPORT_SECONDS = 60.0

    def __init__(self, settings: Settings, storage: CounterStorage | None = None) -> None:
        self.enabled = settings.RATE_LIMIT_ENABLED
        self.groups = parse_groups(settings.RATE_LIMITS)
        self.storage = storage or create_storage(settings)
        # While the shared storage is down, requests are counted here: per process, so the
        # budget is multiplied by the replicas, but login attempts and the rest stay bounded
        # (not counting them at all would open the door to password guessing).
        self._fallback = InProcessCounters()
        self._next_outage_report = 0.0

    def limits_for(self, group: str) -> list[RateLimitItem]:
        return self.groups.get(group) or self.groups.get(DEFAULT_GROUP) or []

    async def hit(self, group: str, identity: str) -> RateLimitState | None:
        """Count one request of `identity` in `group`; None when the group is unlimited."""
        items = self.limits_for(group)
        if not self.enabled or not items:
            return None
        states = []
        for item in items:
            key = item.key_for(group, identity)
            try:
                # The fixed-window strategy's hit, keeping the count it returns: asking the
                # strategy for window stats afterwards read the counter a second time (one
                # more Redis round trip per request).
                count = await self.storage.incr(key, item.get_expiry(), amount=1)
                reset_time = await self.storage.get_expiry(key)
            except Exception as exc:
                # A limiter outage must not take the API down with it.
                self._report_outage(exc)
                count = await self._fallback.incr(key, item.get_expiry(), amount=1)
                reset_time = await self._fallback.get_expiry(key)
            states.append(
                RateLimitState(
                    allowed=count <= item.amount,
                    limit=item.amount,
                    remaining=max(item.amount - count, 0),
                    reset_after=max(math.ceil(reset_time - time.time()), 0),
                )
            )
        refused = [state for state in states if not state.allowed]
        if refused:
            # Retrying before the last of them resets would be refused again.
            return max(refused, key=lambda state: state.reset_after)
        # Else the limit with least headroom.
        return min(states, key=lambda state: state.remaining / max(state.limit, 1))

    def _report_outage(self, exc: Exception) -> None:
        now = time.monotonic()
        if now < self._next_outage_report:
            return
        self._next_outage_report = now + self.OUTAGE_REPORT_SECONDS
        logger.warning(
            "rate limit storage unavailable (%s: %s); counting in this process meanwhile",
            type(exc).__name__,
            exc,
        )
