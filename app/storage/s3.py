"""S3-compatible object storage (AWS S3, R2, MinIO, …) through aiobotocore."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from app.storage.base import Storage, StorageError, check_key

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import GetObjectOutputTypeDef

_MISSING = {"NoSuchKey", "404", "NotFound"}
CHUNK = 256 * 1024


class S3Storage(Storage):
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client_kwargs: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region or "us-east-1",
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": AioConfig(signature_version="s3v4", retries={"max_attempts": 3}),
        }
        self._stack: AsyncExitStack | None = None
        self._client: S3Client | None = None

    async def start(self) -> None:
        if self._client is not None:
            return
        stack = AsyncExitStack()
        self._client = await stack.enter_async_context(
            get_session().create_client("s3", **self._client_kwargs)
        )
        self._stack = stack

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._client = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise StorageError("S3 storage used before start()")
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def _write(self, key: str, data: bytes, content_type: str) -> None:
        await self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
        )

    async def _get(self, key: str) -> GetObjectOutputTypeDef:
        try:
            return await self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise FileNotFoundError(key) from exc
            raise

    async def read(self, key: str) -> bytes:
        response = await self._get(key)
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def open(self, key: str) -> AsyncIterator[bytes]:
        response = await self._get(key)
        return self._chunks(response["Body"])

    @staticmethod
    async def _chunks(body: Any) -> AsyncIterator[bytes]:
        async with body:
            async for chunk in body.iter_chunks(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def _list_full(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []) if "Key" in item)
        return keys

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self._list_full(prefix)
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            response = await self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            # A 200 may still list objects that were not deleted (access denied, slow down).
            if errors := response.get("Errors"):
                first = errors[0]
                raise StorageError(
                    f"{len(errors)} of {len(batch)} objects under {prefix!r} were not deleted "
                    f"(first: {first.get('Key')!r}: {first.get('Code')} {first.get('Message')})"
                )
        return len(keys)

    async def list_keys(self, prefix: str = "") -> list[str]:
        return sorted(key[len(self.prefix) :] for key in await self._list_full(prefix))

    async def signed_url(self, key: str, expires_in: int) -> str | None:
        return await self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_in,
        )
