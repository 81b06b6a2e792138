"""Files under a directory (DATA_DIR/files by default); writes are atomic renames."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import BinaryIO

from app.storage.base import Storage, check_key

CHUNK = 256 * 1024


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise FileNotFoundError(key)
        return path

    def _write_sync(self, key: str, data: bytes) -> None:
        path = self._path(key)
        # A reader never sees a half-written file: write aside, then rename into place.
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        try:
            for attempt in range(2):
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with open(tmp, "wb") as handle:
                        handle.write(data)
                    os.replace(tmp, path)
                    return
                except FileNotFoundError:
                    # The directory's last file was just deleted, and the directory with it.
                    if attempt:
                        raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    async def _write(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write_sync, key, data)

    # Resolving a path stats every directory on the way: in the thread, like the I/O.

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(lambda: self._path(key).read_bytes())

    async def open(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(lambda: self._path(key).open("rb"))
        return self._chunks(handle)

    @staticmethod
    async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    def _delete_sync(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # The last file of its directory (a generation deleted while this result was being
        # written): the directory goes too. Not empty: kept.
        if path.parent != self.root:
            with contextlib.suppress(OSError):
                path.parent.rmdir()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete_sync, key)

    def _files(self, prefix: str) -> Iterator[tuple[str, Path]]:
        """(key, path) of the files whose key starts with `prefix`, a temporary file under the
        key it was becoming. Walks only the directory the prefix names, not the whole store."""
        base = (self.root / prefix.rpartition("/")[0]).resolve()
        if not base.is_relative_to(self.root) or not base.is_dir():
            return
        for path in base.rglob("*"):
            if not path.is_file():
                continue
            key = path.relative_to(self.root).as_posix()
            if path.name.endswith(".part"):
                # ".{name}.{uuid}.part" -> name
                key = key[: -len(path.name)] + path.name[1:].rsplit(".", 2)[0]
            if key.startswith(prefix):
                yield key, path

    def _delete_prefix_sync(self, prefix: str) -> int:
        """Removes temporary files too: those of a writer that died mid-write."""
        removed = 0
        for _key, path in self._files(prefix):
            path.unlink(missing_ok=True)
            removed += 1
        directory = self.root / prefix.rstrip("/")
        if prefix.endswith("/") and directory.is_dir() and directory.resolve() != self.root:
            shutil.rmtree(directory, ignore_errors=True)
        return removed

    async def delete_prefix(self, prefix: str) -> int:
        return await asyncio.to_thread(self._delete_prefix_sync, prefix)

    def _list_sync(self, prefix: str) -> list[str]:
        return sorted(key for key, path in self._files(prefix) if not path.name.endswith(".part"))

    async def list_keys(self, prefix: str = "") -> list[str]:
        return await asyncio.to_thread(self._list_sync, prefix)
