"""A tiny per-process cache for small, rarely edited tables read on hot paths.

Entries are keyed by database (an app and its tests may talk to several) and expire after
`ttl` seconds; writers in this process call `invalidate()`, other processes see the change
when the entry expires.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import Database

V = TypeVar("V")

# Engine -> its URL as text, the part of every cache key that says which database it is.
_URLS: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


@asynccontextmanager
async def session_for(source: AsyncSession | Database) -> AsyncIterator[AsyncSession]:
    """A session to load a cached value with: the caller's own, or, for a caller without
    one, a read session opened only now that the cache needs filling."""
    if isinstance(source, Database):
        async with source.read_sessionmaker() as session:
            yield session
    else:
        yield source


class TtlCache(Generic[V]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[float, V]] = {}

    @staticmethod
    def database_key(source: AsyncSession | Database) -> str:
        engine = source.engine if isinstance(source, Database) else source.bind
        if engine is None:
            return ""
        # Rendering the URL on every read cost more than the rest of a cache hit.
        key = _URLS.get(engine.sync_engine)
        if key is None:
            key = _URLS[engine.sync_engine] = str(engine.sync_engine.url)
        return key

    async def get(
        self, source: AsyncSession | Database, key: Hashable, load: Callable[[], Awaitable[V]]
    ) -> V:
        """The entry for `key` in the database `source` (a session, or the database itself
        for callers that open a session only when `load` must run)."""
        full_key = (self.database_key(source), key)
        now = time.monotonic()
        entry = self._entries.get(full_key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = await load()
        if self.ttl > 0:
            self._entries[full_key] = (now + self.ttl, value)
        return value

    def invalidate(self) -> None:
        self._entries.clear()
