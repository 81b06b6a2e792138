from __future__ import annotations

from typing import Any

from app.core.ttl_cache import TtlCache


class _Engine:
    def __init__(self, url: str) -> None:
        self.url = url


class _Bind:
    def __init__(self, url: str) -> None:
        self.sync_engine = _Engine(url)


class _Session:
    def __init__(self, url: str) -> None:
        self.bind = _Bind(url)


async def test_ttl_cache_expiry_invalidation_and_database_keys() -> None:
    calls: list[str] = []

    def loader(value: str) -> Any:
        async def load() -> str:
            calls.append(value)
            return value

        return load

    cache: TtlCache[str] = TtlCache(60)
    a, b = _Session("postgresql://a"), _Session("postgresql://b")
    assert await cache.get(a, "k", loader("1")) == "1"  # type: ignore[arg-type]
    assert await cache.get(a, "k", loader("2")) == "1"  # type: ignore[arg-type]
    assert await cache.get(b, "k", loader("3")) == "3"  # type: ignore[arg-type]
    cache.invalidate()
    assert await cache.get(a, "k", loader("4")) == "4"  # type: ignore[arg-type]
    expired: TtlCache[str] = TtlCache(0)
    assert await expired.get(a, "k", loader("5")) == "5"  # type: ignore[arg-type]
    assert await expired.get(a, "k", loader("6")) == "6"  # type: ignore[arg-type]
    assert calls == ["1", "3", "4", "5", "6"]
