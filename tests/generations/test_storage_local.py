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


async def test_an_attempts_removal_takes_a_dead_writers_temporary_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("generations/g/p1-a.png", b"done", "image/png")
    await storage.put("generations/g/p2-b.png", b"other prediction", "image/png")
    # What a writer killed mid-write leaves: its file under a temporary name.
    (tmp_path / "generations" / "g" / ".p1-dead.png.0123abcd.part").write_bytes(b"half")
    assert await storage.list_keys("generations/g/") == [
        "generations/g/p1-a.png",
        "generations/g/p2-b.png",
    ]
    assert await storage.delete_prefix("generations/g/p1-") == 2
    assert sorted(p.name for p in (tmp_path / "generations" / "g").iterdir()) == ["p2-b.png"]


async def test_removing_a_directorys_last_file_removes_the_directory(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("generations/g/p1-a.png", b"1", "image/png")
    await storage.put("generations/g/p2-b.png", b"2", "image/png")
    await storage.delete("generations/g/p1-a.png")
    assert (tmp_path / "generations" / "g").is_dir()
    await storage.delete("generations/g/p2-b.png")
    assert not (tmp_path / "generations" / "g").exists()
    assert (tmp_path / "generations").is_dir()


async def test_a_write_racing_the_removal_of_its_directory_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path)
    real_open, raced = open, []

    def open_after_the_directory_went(path: Path, mode: str) -> object:
        if not raced:
            raced.append(path)
            # Another prediction's file, the directory's last, was deleted just now.
            path.parent.rmdir()
            raise FileNotFoundError(path)
        return real_open(path, mode)

    monkeypatch.setattr("app.storage.local.open", open_after_the_directory_went, raising=False)
    await storage.put("generations/g/p-t.png", b"data", "image/png")
    assert raced and await storage.read("generations/g/p-t.png") == b"data"


async def test_open_refuses_a_missing_file_before_any_chunk(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("g/a.png", b"abc" * 100_000, "image/png")
    chunks = await storage.open("g/a.png")
    # Removed once opened (a delete racing a download): the open handle still reads it all.
    await storage.delete("g/a.png")
    assert b"".join([chunk async for chunk in chunks]) == b"abc" * 100_000
    with pytest.raises(FileNotFoundError):
        await storage.open("g/a.png")
