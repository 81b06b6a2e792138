"""HTTP plumbing shared by the provider clients: JSON calls through the process-wide httpx
client with the shared retry policy, error mapping, result downloads and image decoding.

Nothing here logs headers or bodies: they carry API keys and base64 images.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from PIL import Image, UnidentifiedImageError

from app.core.http import get_http_client
from app.core.url_guard import FetchError, UnsafeURLError, send_checked
from app.imaging.io import MAX_INPUT_PIXELS
from app.providers.base import ErrorCategory, InputImage, OutputImage, ProviderError
from app.providers.retry import (
    RetryableProviderError,
    RetryPolicy,
    is_retryable_status,
    with_retries,
)

if TYPE_CHECKING:
    from app.core.config import Settings

_MAX_MESSAGE = 500


def data_uri(image: InputImage) -> str:
    return f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode('ascii')}"


def b64(image: InputImage) -> str:
    return base64.b64encode(image.data).decode("ascii")


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def error_message(body: Any) -> str | None:
    """The human part of an error body, in the shapes fal, Freepik and Google use."""
    if not isinstance(body, dict):
        return None
    detail = body.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                msg = str(item.get("msg", ""))
                parts.append(f"{loc}: {msg}" if loc else msg)
        if parts:
            return "; ".join(parts)
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    message = body.get("message")
    if isinstance(message, str):
        invalid = body.get("invalid_params")
        if isinstance(invalid, list) and invalid:
            reasons = "; ".join(
                f"{item.get('name')}: {item.get('reason')}"
                for item in invalid
                if isinstance(item, dict)
            )
            return f"{message} ({reasons})"
        return message
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_from_response(
    response: httpx.Response, body: bytes, what: str, settings: Settings
) -> ProviderError:
    """The error an HTTP error answer stands for; `body` is what was read of it. The message
    quotes the provider's answer, stored on the prediction and logged: without our keys."""
    status = response.status_code
    try:
        detail = error_message(json.loads(body))
    except ValueError:
        detail = None
    if detail:
        detail = settings.redact(detail)
    message = f"{what} failed with HTTP {status}" + (f": {_shorten(detail)}" if detail else "")
    # fal: a 504 carrying this header is the server-side request timeout; retrying won't help.
    if status == 504 and "x-fal-request-timeout-type" in response.headers:
        return ProviderError(message, ErrorCategory.TIMEOUT)
    if is_retryable_status(status):
        category = {
            429: ErrorCategory.RATE_LIMITED,
            408: ErrorCategory.TIMEOUT,
        }.get(status, ErrorCategory.PROVIDER_ERROR)
        return RetryableProviderError(message, category, _retry_after(response))
    if status in (401, 403):
        return ProviderError(message, ErrorCategory.CONFIGURATION)
    if status in (400, 404, 413, 422):
        return ProviderError(message, ErrorCategory.INVALID_INPUT)
    return ProviderError(message, ErrorCategory.PROVIDER_ERROR)


async def request_json(
    method: str,
    url: str,
    *,
    settings: Settings,
    what: str,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    params: dict[str, str] | None = None,
    retry: bool = True,
) -> Any:
    """One provider API call, retried per the shared policy; returns the decoded JSON body."""
    timeout = settings.PROVIDER_REQUEST_TIMEOUT_SECONDS
    limit = settings.PROVIDER_MAX_DOWNLOAD_BYTES

    async def once() -> Any:
        client = get_http_client()
        request = client.build_request(
            method, url, headers=headers, json=json_body, params=params, timeout=timeout
        )
        try:
            response = await client.send(request, stream=True)
            try:
                # Read with a cap: an answer is JSON, not an unbounded stream into memory.
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > limit:
                        raise ProviderError(
                            f"{what}: the answer is larger than {limit} bytes",
                            ErrorCategory.MALFORMED_RESPONSE,
                        )
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            message = f"{what}: no answer within {timeout:g}s"
            if method in ("GET", "HEAD"):
                # Reading again is harmless; a POST may have been acted on.
                raise RetryableProviderError(message, ErrorCategory.TIMEOUT) from exc
            raise ProviderError(message, ErrorCategory.TIMEOUT) from exc
        except httpx.TransportError as exc:
            raise RetryableProviderError(
                f"{what}: cannot reach the provider ({exc.__class__.__name__})"
            ) from exc
        if response.status_code >= 400:
            raise error_from_response(response, bytes(body), what, settings)
        try:
            return json.loads(body)
        except (ValueError, json.JSONDecodeError) as exc:
            raise ProviderError(
                f"{what}: the provider answered with malformed JSON",
                ErrorCategory.MALFORMED_RESPONSE,
            ) from exc

    policy = RetryPolicy.from_settings(settings) if retry else RetryPolicy(attempts=1)
    return await with_retries(once, policy)


async def download(url: str, *, settings: Settings, what: str) -> bytes:
    """Fetch a result file from a provider-controlled URL: SSRF-checked, size and time capped."""
    timeout = settings.PROVIDER_REQUEST_TIMEOUT_SECONDS

    async def once() -> bytes:
        try:
            response, body = await send_checked(
                "GET",
                url,
                settings.outbound_policy,
                timeout=timeout,
                max_bytes=settings.PROVIDER_MAX_DOWNLOAD_BYTES,
            )
        except UnsafeURLError as exc:
            raise ProviderError(
                f"{what}: refused result URL ({exc})", ErrorCategory.MALFORMED_RESPONSE
            ) from exc
        except FetchError as exc:
            category = (
                ErrorCategory.TIMEOUT if "timed out" in str(exc) else ErrorCategory.PROVIDER_ERROR
            )
            raise ProviderError(f"{what}: {exc}", category) from exc
        if response.status_code >= 400:
            raise error_from_response(response, body, what, settings)
        return body

    return await with_retries(once, RetryPolicy.from_settings(settings))


def header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from an image's header (no pixel decoding), None if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.width, image.height
    except (UnidentifiedImageError, OSError):
        return None


# A result larger than this is refused from its header, before anything decodes its pixels
# (the decompression-bomb limit inputs have: a tiny file can declare gigapixels).
MAX_RESULT_PIXELS = MAX_INPUT_PIXELS


class ResultTooLarge(Exception):
    pass


def _inspect(data: bytes) -> tuple[bytes, str, int, int]:
    try:
        opened = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ResultTooLarge(f"over {(Image.MAX_IMAGE_PIXELS or 0) * 2}") from exc
    with opened as image:
        if image.width * image.height > MAX_RESULT_PIXELS:
            raise ResultTooLarge(f"{image.width}x{image.height}")
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        if image.format in SERVED_FORMATS:
            return data, SERVED_FORMATS[image.format], image.width, image.height
        # Anything else Pillow reads (TIFF, EPS, BMP…) is re-encoded: results are served
        # from the API's origin, as what they say they are.
        buffer = io.BytesIO()
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(buffer, format="PNG")
        return buffer.getvalue(), "image/png", image.width, image.height


SERVED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


async def to_output_image(data: bytes, *, what: str, seed: int | None = None) -> OutputImage:
    """Decode enough of a result image to know its type and dimensions (off the event loop);
    a format other than PNG, JPEG or WebP is converted to PNG."""
    try:
        data, mime, width, height = await asyncio.to_thread(_inspect, data)
    except ResultTooLarge as exc:
        raise ProviderError(
            f"{what}: the provider returned an image of {exc} pixels, over the "
            f"{MAX_RESULT_PIXELS} allowed",
            ErrorCategory.MALFORMED_RESPONSE,
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ProviderError(
            f"{what}: the provider returned a file that is not an image",
            ErrorCategory.MALFORMED_RESPONSE,
        ) from exc
    return OutputImage(data=data, mime_type=mime, width=width, height=height, seed=seed)


class PollDelay:
    """Poll intervals: start at the configured interval, grow 1.5x up to the maximum."""

    def __init__(self, settings: Settings) -> None:
        self._next = settings.PROVIDER_POLL_INTERVAL_SECONDS
        self._max = max(settings.PROVIDER_POLL_MAX_INTERVAL_SECONDS, self._next)

    async def wait(self) -> None:
        await asyncio.sleep(self._next)
        self._next = min(self._max, self._next * 1.5)
