"""Input images of a generation: data URLs, guarded http(s) URLs or confined local paths."""

from __future__ import annotations

import asyncio

from app.core.config import Settings
from app.core.errors import AppError
from app.core.url_guard import FetchError, UnsafeURLError, check_url
from app.imaging.loading import load_image as load_untrusted_image
from app.imaging.loading import resolve_local_path, source_scheme
from app.providers.base import ErrorCategory, InputImage, ProviderError


class InputImageError(ValueError):
    pass


async def check_image_reference(source: str, settings: Settings) -> None:
    """At creation: refuse references we will never be allowed or able to read."""
    source = source.strip()
    try:
        scheme = source_scheme(source)
        if scheme in ("http", "https"):
            await check_url(source, settings.outbound_policy)
        elif scheme == "data":
            await load_untrusted_image(source, settings)
        else:
            await asyncio.to_thread(resolve_local_path, source, settings)
    except (UnsafeURLError, FetchError) as exc:
        raise InputImageError(str(exc)) from exc
    except AppError as exc:
        raise InputImageError(exc.detail) from exc


async def load_image(source: str, role: str, settings: Settings) -> InputImage:
    try:
        loaded = await load_untrusted_image(source, settings)
    except AppError as exc:
        raise ProviderError(
            f"cannot load the {role} image: {exc.detail}", ErrorCategory.INVALID_INPUT
        ) from exc
    return InputImage(data=loaded.data, mime_type=loaded.mime_type, role=role)
