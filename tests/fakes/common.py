"""Behaviour switches shared by the fake provider servers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait until `predicate()` is true (state changed by a fake server's thread)."""
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any


@dataclass
class FakeControl:
    """What a fake answers. Modes are read per request, so a test can flip them mid-run."""

    # normal | error | hang | malformed | fail (remote job fails)
    mode: str = "normal"
    # Which step `mode` applies to (submit, status, result, poll, download…); None: the first.
    mode_step: str | None = None
    # Answer this many requests of `flaky_step` with `flaky_status` before behaving.
    flaky_count: int = 0
    flaky_status: int = 503
    flaky_step: str | None = None
    # Polls answered "still running" before a job completes (-1: never completes).
    polls_before_done: int = 1
    requests: list[Recorded] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def applies(self, step: str, default_step: str) -> bool:
        return (self.mode_step or default_step) == step

    def take_flaky(self, step: str, default_step: str) -> bool:
        if self.flaky_count > 0 and (self.flaky_step or default_step) == step:
            self.flaky_count -= 1
            return True
        return False

    async def hang(self, limit: float = 10.0) -> None:
        """Never answer (until the test ends, so the server can shut down promptly)."""
        await asyncio.to_thread(self.released.wait, limit)

    def calls(self, step_path_fragment: str, method: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if step_path_fragment in r.path and (method is None or r.method == method)
        ]
