"""Local storage: what `put` reports matches what it wrote, small and large objects alike
(large ones are hashed off the event loop)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from app.storage.base import HASH_INLINE_BYTES
from app.storage.local import LocalStorage


@pytest.mark.parametrize("size", [10, HASH_INLINE_BYTES + 1])
async def test_put_reports_size_and_digest(tmp_path: Path, size: int) -> None:
    storage = LocalStorage(tmp_path)
    data = os.urandom(size)
    stored = await storage.put("generations/g/p-t.png", data, "image/png")
    assert stored.size == size
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await storage.read(stored.key) == data
    assert sorted(p.name for p in (tmp_path / "generations" / "g").iterdir()) == ["p-t.png"]


async def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path)

    def refuse(_src: object, _dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        await storage.put("generations/g/p-t.png", b"data", "image/png")
    assert list((tmp_path / "generations" / "g").iterdir()) == []
