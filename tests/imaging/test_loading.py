"""Untrusted image loading: data URLs, URLs (SSRF guard), local paths, limits, formats."""

from __future__ import annotations

import base64
import io
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.core.config import Settings
from app.imaging.loading import (
    ImageLoadError,
    ImageTooLarge,
    UnsupportedImage,
    load_image,
)
from tests.conftest import make_settings
from tests.fakes.server import serve


def png_bytes(size: tuple[int, int] = (8, 6), color: str = "red", fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size (its pixel data would expand to gigabytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir()
    return root


@pytest.fixture
def cfg(database_url: str, files_dir: Path) -> Settings:
    return make_settings(database_url, DATA_FILES_DIR=files_dir, IMAGE_MAX_BYTES=200_000)


async def test_data_url(cfg: Settings) -> None:
    image = await load_image(data_url(png_bytes((8, 6))), cfg)
    assert (image.mime_type, image.size, image.origin) == ("image/png", (8, 6), "data_url")
    assert image.open().size == (8, 6)
    # The format is sniffed, not taken from the declared type.
    image = await load_image(data_url(png_bytes(fmt="JPEG"), "image/png"), cfg)
    assert image.mime_type == "image/jpeg"


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        ("data:image/png;base64,@@not-base64@@", ImageLoadError, "Invalid base64"),
        ("data:image/png,rawdata", ImageLoadError, "base64"),
        ("data:image/png;base64", ImageLoadError, "Malformed"),
        (data_url(b"hello, not an image"), UnsupportedImage, "not an image"),
        ("   ", ImageLoadError, "empty"),
        ("ftp://example.com/a.png", ImageLoadError, "scheme"),
        ("file:///etc/passwd", ImageLoadError, "scheme"),
        # Shared address space, where some clouds serve instance metadata.
        ("http://100.100.100.200/latest/meta-data/", ImageLoadError, "non-public"),
        ("http://100.64.0.1/a.png", ImageLoadError, "non-public"),
        # Names IDNA cannot encode.
        ("http://a..b/x.png", ImageLoadError, "cannot resolve"),
        (f"http://{'a' * 64}.com/x.png", ImageLoadError, "cannot resolve"),
        ("a\u0000b.png", ImageLoadError, "NUL"),
    ],
)
async def test_bad_sources(
    cfg: Settings, source: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        await load_image(source, cfg)
    assert message in str(info.value)


async def test_unsupported_format_and_truncation(cfg: Settings) -> None:
    with pytest.raises(UnsupportedImage) as info:
        await load_image(data_url(png_bytes(fmt="TIFF")), cfg)
    assert "TIFF" in str(info.value)
    with pytest.raises(ImageLoadError) as trunc:
        await load_image(data_url(png_bytes((64, 64), "blue", "JPEG")[:300]), cfg)
    assert trunc.value.status_code == 400


async def test_limits(cfg: Settings, database_url: str) -> None:
    with pytest.raises(ImageTooLarge) as info:
        await load_image(data_url(b"\0" * 300_000), cfg)
    assert info.value.status_code == 413
    # A decompression bomb is refused from its header alone.
    with pytest.raises(ImageTooLarge):
        await load_image(data_url(bomb_png(100_000, 100_000)), cfg)
    small = make_settings(database_url, IMAGE_MAX_PIXELS=100)
    with pytest.raises(ImageTooLarge):
        await load_image(data_url(png_bytes((20, 20))), small)


async def test_local_paths(cfg: Settings, files_dir: Path, tmp_path: Path) -> None:
    (files_dir / "sub").mkdir()
    (files_dir / "sub" / "a.png").write_bytes(png_bytes((5, 5)))
    image = await load_image("sub/a.png", cfg)
    assert image.size == (5, 5) and image.origin == "path"
    assert (await load_image(str(files_dir / "sub" / "a.png"), cfg)).size == (5, 5)

    outside = tmp_path / "secret.png"
    outside.write_bytes(png_bytes())
    (files_dir / "link.png").symlink_to(outside)
    for source, message in (
        ("../secret.png", "'..'"),
        ("sub/../../secret.png", "'..'"),
        (str(outside), "inside the data files directory"),
        ("link.png", "inside the data files directory"),
        ("missing.png", "not found"),
        ("sub", "not a file"),
    ):
        with pytest.raises(ImageLoadError) as info:
            await load_image(source, cfg)
        assert message in str(info.value), source
    (files_dir / "big.png").write_bytes(b"\0" * 300_000)
    with pytest.raises(ImageTooLarge):
        await load_image("big.png", cfg)


def _image_app() -> Starlette:
    async def image(_: Request) -> Response:
        return Response(png_bytes((3, 4)), media_type="text/plain")

    async def missing(_: Request) -> Response:
        return Response("no", status_code=404)

    async def to_metadata(_: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/")

    async def huge(_: Request) -> Response:
        return Response(b"\0" * 300_000, media_type="image/png")

    return Starlette(
        routes=[
            Route("/a.png", image),
            Route("/missing.png", missing),
            Route("/redirect", to_metadata),
            Route("/huge", huge),
        ]
    )


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    with serve(_image_app()) as url:
        yield url


async def test_urls_through_the_guard(
    cfg: Settings, database_url: str, files_dir: Path, image_server: str
) -> None:
    # Loopback is refused unless allow-listed.
    with pytest.raises(ImageLoadError) as info:
        await load_image(f"{image_server}/a.png", cfg)
    assert "refused" in str(info.value)
    allowed = make_settings(
        database_url,
        OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
        DATA_FILES_DIR=files_dir,
        IMAGE_MAX_BYTES=200_000,
    )
    image = await load_image(f"{image_server}/a.png", allowed)
    assert (image.size, image.mime_type, image.origin) == ((3, 4), "image/png", "url")
    with pytest.raises(ImageLoadError) as info:
        await load_image(f"{image_server}/missing.png", allowed)
    assert "404" in str(info.value)
    with pytest.raises(ImageLoadError) as info:
        await load_image(f"{image_server}/redirect", allowed)
    assert "refused" in str(info.value)
    with pytest.raises(ImageTooLarge):
        await load_image(f"{image_server}/huge", allowed)
    with pytest.raises(ImageLoadError):
        await load_image("http://127.0.0.1:1/a.png", allowed)
    assert os.environ.get("OUTBOUND_ALLOWED_HOSTS") is None
