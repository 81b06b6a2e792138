"""The storage interface the pipeline and the file routes use."""

from __future__ import annotations

import asyncio
import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

HASH_INLINE_BYTES = 64 * 1024


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    content_type: str


class StorageError(RuntimeError):
    pass


def check_key(key: str) -> str:
    """Keys are relative, slash-separated and never climb out of the storage root."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise StorageError(f"invalid storage key {key!r}")
    return key


class Storage(ABC):
    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        check_key(key)
        # Hashing megabytes blocks for milliseconds: off the loop (hashlib releases the GIL).
        if len(data) > HASH_INLINE_BYTES:
            digest = await asyncio.to_thread(_sha256, data)
        else:
            digest = _sha256(data)
        await self._write(key, data, content_type)
        return StoredObject(key=key, size=len(data), sha256=digest, content_type=content_type)

    @abstractmethod
    async def _write(self, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    async def read(self, key: str) -> bytes:
        """The whole object; raises FileNotFoundError when missing."""

    @abstractmethod
    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's chunks, from an object already opened: raises FileNotFoundError when
        missing here, not once a response streaming them has begun."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove one object; a missing object is not an error."""

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with `prefix`; returns how many."""

    @abstractmethod
    async def list_keys(self, prefix: str = "") -> list[str]: ...

    async def signed_url(self, key: str, expires_in: int) -> str | None:
        """An expiring URL that reads the object without our credentials, when supported."""
        return None
