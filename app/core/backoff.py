"""Retry delays shared by every client that retries: provider calls and webhook deliveries."""

import random


def jittered_backoff(attempt: int, base: float, cap: float) -> float:
    """Delay after failed attempt `attempt` (0-based): exponential, capped, with equal jitter
    (half fixed, half random) so concurrent retries do not march in step."""
    delay = min(base * 2**attempt, cap)
    return float(delay / 2 + random.uniform(0, delay / 2))  # noqa: S311 - jitter, not security
