"""S3-compatible storage, against moto's S3 server on a loopback port."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

from app.main import create_app
from app.storage.base import StorageError
from app.storage.s3 import S3Storage
from tests.conftest import make_settings
from tests.fakes.server import free_port
from tests.generations.helpers import wait_for

if TYPE_CHECKING:
    from tests.conftest import TestUser

BUCKET = "generations-test"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
async def s3_client(
    s3_endpoint: str, database_url: str, tmp_path: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with get_session().create_client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS
    ) as s3:
        await s3.create_bucket(Bucket=BUCKET)
    settings = make_settings(
        database_url,
        STORAGE_BACKEND="s3",
        S3_BUCKET=BUCKET,
        S3_PREFIX="media",
        S3_ENDPOINT_URL=s3_endpoint,
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
        SIGNED_URL_TTL_SECONDS=60,
        SEED_DEFAULTS=False,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.app = application  # type: ignore[attr-defined]
            yield client


async def test_results_are_stored_in_s3_and_served_by_signed_url(
    s3_client: httpx.AsyncClient, user: TestUser, s3_endpoint: str
) -> None:
    r = await s3_client.post(
        "/api/v1/generations/",
        json={"batch_size": 2, "width": 64, "height": 64},
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    done = await wait_for(s3_client, r.json()["id"], user.headers)
    assert done["status"] == "COMPLETED", done
    storage = s3_client.app.state.storage  # type: ignore[attr-defined]
    keys = await storage.list_keys(f"generations/{done['id']}/")
    assert len(keys) == 2

    prediction = done["predictions"][0]
    redirect = await s3_client.get(prediction["result_image_url"], headers=user.headers)
    assert redirect.status_code == 307
    signed = redirect.headers["location"]
    assert signed.startswith(s3_endpoint) and "X-Amz-Signature" in signed
    async with httpx.AsyncClient() as plain:
        image = await plain.get(signed)
    assert image.status_code == 200
    assert hashlib.sha256(image.content).hexdigest() == prediction["result_sha256"]
    # The object itself is not public.
    async with httpx.AsyncClient() as plain:
        unsigned = await plain.get(signed.split("?")[0])
    assert unsigned.status_code == 403

    assert (
        await s3_client.delete(f"/api/v1/generations/{done['id']}", headers=user.headers)
    ).status_code == 200
    assert await storage.list_keys(f"generations/{done['id']}/") == []


@pytest.fixture
async def s3_storage(s3_endpoint: str) -> AsyncIterator[S3Storage]:
    storage = S3Storage(
        bucket=BUCKET, prefix="unit", endpoint_url=s3_endpoint, access_key_id="test",
        secret_access_key="test",
    )  # fmt: skip
    await storage.start()
    try:
        await storage.client.create_bucket(Bucket=BUCKET)
        yield storage
    finally:
        await storage.close()


async def test_open_streams_the_object_and_refuses_a_missing_one_up_front(
    s3_storage: S3Storage,
) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: several chunks
    await s3_storage.put("a/one.bin", data, "application/octet-stream")
    assert b"".join([chunk async for chunk in await s3_storage.open("a/one.bin")]) == data
    with pytest.raises(FileNotFoundError):
        await s3_storage.open("a/missing.bin")


async def test_objects_s3_did_not_delete_are_an_error(
    s3_storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await s3_storage.put("b/one.png", b"x", "image/png")

    async def refusing(**kwargs: Any) -> dict[str, Any]:
        key = kwargs["Delete"]["Objects"][0]["Key"]
        return {"Errors": [{"Key": key, "Code": "AccessDenied", "Message": "Access Denied"}]}

    monkeypatch.setattr(s3_storage.client, "delete_objects", refusing)
    with pytest.raises(StorageError, match="1 of 1 objects under 'b/' were not deleted"):
        await s3_storage.delete_prefix("b/")
