"""Input images of a prediction: user URLs through the SSRF guard, or inline data: URLs."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_to_bytes

from app.core.config import Settings
from app.core.url_guard import FetchError, UnsafeURLError, check_url, fetch_url
from app.providers.base import ErrorCategory, InputImage, ProviderError


class InputImageError(ValueError):
    pass


def decode_data_url(url: str) -> tuple[bytes, str]:
    header, _, payload = url.partition(",")
    if not header.startswith("data:") or not _:
        raise InputImageError("malformed data: URL")
    meta = header[5:]
    mime = meta.split(";")[0] or "application/octet-stream"
    try:
        data = (
            base64.b64decode(payload, validate=True)
            if meta.endswith(";base64")
            else unquote_to_bytes(payload)
        )
    except (binascii.Error, ValueError) as exc:
        raise InputImageError("data: URL is not valid base64") from exc
    if not mime.startswith("image/"):
        raise InputImageError("data: URL is not an image")
    return data, mime


async def check_image_reference(url: str, settings: Settings) -> None:
    """At creation: refuse references we will never be allowed or able to read."""
    if url.startswith("data:"):
        data, _ = decode_data_url(url)
        if len(data) > settings.MAX_INPUT_IMAGE_BYTES:
            raise InputImageError("inline image is too large")
        return
    try:
        await check_url(url, settings.outbound_policy)
    except (UnsafeURLError, FetchError) as exc:
        raise InputImageError(str(exc)) from exc


async def load_image(url: str, role: str, settings: Settings) -> InputImage:
    try:
        if url.startswith("data:"):
            data, mime = decode_data_url(url)
        else:
            fetched = await fetch_url(
                url, settings.outbound_policy, max_bytes=settings.MAX_INPUT_IMAGE_BYTES
            )
            data = fetched.content
            mime = (fetched.content_type or "image/png").split(";")[0]
    except (InputImageError, UnsafeURLError, FetchError) as exc:
        raise ProviderError(
            f"cannot load the {role} image: {exc}", ErrorCategory.INVALID_INPUT
        ) from exc
    return InputImage(data=data, mime_type=mime, role=role)
