"""google-genai plumbing shared by the Vertex image, Nano Banana upscaler and Gemini text
clients: one client per configuration (on the process-wide httpx client), calls retried per
the shared policy, SDK errors mapped to `ProviderError`.

Mode: Vertex AI when `VERTEX_PROJECT` is set (Application Default Credentials, e.g.
GOOGLE_APPLICATION_CREDENTIALS, unless credentials are handed in), else the Gemini API with
`GEMINI_API_KEY`.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import httpx
import pydantic
from google import genai
from google.auth.exceptions import GoogleAuthError
from google.genai import errors as genai_errors
from google.genai import types

from app.core.http import get_http_client
from app.providers.base import ErrorCategory, InputImage, ProviderError
from app.providers.retry import RetryableProviderError, RetryPolicy, with_retries

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from app.core.config import Settings

ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")

_clients: dict[tuple[Any, ...], genai.Client] = {}


def _ratio(value: str) -> float:
    width, height = value.split(":")
    return int(width) / int(height)


def nearest_aspect_ratio(width: int, height: int) -> str:
    target = width / max(1, height)
    return min(ASPECT_RATIOS, key=lambda r: abs(_ratio(r) - target))


def image_size_for(long_side: int) -> str:
    return "1K" if long_side <= 1024 else "2K" if long_side <= 2048 else "4K"


async def genai_client(settings: Settings, credentials: Credentials | None = None) -> genai.Client:
    """The client for these settings. Building one takes 0.1-0.7 s of blocking work (SSL
    contexts, Vertex environment probing): done in a thread, once per configuration.
    Timeouts are set per call (see `generate_content`)."""
    http = get_http_client()
    vertex = bool(settings.VERTEX_PROJECT)
    if not vertex and not settings.GEMINI_API_KEY:
        raise ProviderError(
            "gemini: neither VERTEX_PROJECT nor GEMINI_API_KEY is configured",
            ErrorCategory.CONFIGURATION,
        )
    key = (
        vertex,
        settings.VERTEX_PROJECT,
        settings.VERTEX_LOCATION,
        settings.VERTEX_BASE_URL,
        settings.GEMINI_API_KEY,
        settings.GEMINI_BASE_URL,
        id(credentials),
        id(http),
    )
    client = _clients.get(key)
    if client is not None:
        return client
    try:
        if vertex:
            options = types.HttpOptions(base_url=settings.VERTEX_BASE_URL, httpx_async_client=http)
            client = await asyncio.to_thread(
                genai.Client,
                vertexai=True,
                project=settings.VERTEX_PROJECT,
                location=settings.VERTEX_LOCATION,
                credentials=credentials,
                http_options=options,
            )
        else:
            options = types.HttpOptions(base_url=settings.GEMINI_BASE_URL, httpx_async_client=http)
            client = await asyncio.to_thread(
                genai.Client, api_key=settings.GEMINI_API_KEY, http_options=options
            )
    except (ValueError, GoogleAuthError) as exc:
        raise ProviderError(
            f"gemini: cannot build the client ({exc.__class__.__name__}: {exc})",
            ErrorCategory.CONFIGURATION,
        ) from exc
    # Settings objects are few (one per process, a handful in tests): the cache stays small.
    _clients[key] = client
    return client


def image_part(image: InputImage) -> types.Part:
    return types.Part.from_bytes(data=image.data, mime_type=image.mime_type)


def _api_error(exc: genai_errors.APIError, what: str) -> ProviderError:
    message = f"{what} failed with HTTP {exc.code}" + (f": {exc.message}" if exc.message else "")
    code = exc.code
    if code == 429:
        return RetryableProviderError(message, ErrorCategory.RATE_LIMITED)
    if code == 408:
        return RetryableProviderError(message, ErrorCategory.TIMEOUT)
    if code == 409 or 500 <= code <= 599:
        return RetryableProviderError(message)
    if code in (401, 403, 404):  # bad key, no access, unknown model
        return ProviderError(message, ErrorCategory.CONFIGURATION)
    if code in (400, 413, 422):
        return ProviderError(message, ErrorCategory.INVALID_INPUT)
    return ProviderError(message)


async def generate_content(
    client: genai.Client,
    *,
    model: str,
    contents: list[Any],
    config: types.GenerateContentConfig,
    settings: Settings,
    what: str,
    timeout: float | None = None,
) -> types.GenerateContentResponse:
    timeout = timeout or settings.PROVIDER_REQUEST_TIMEOUT_SECONDS
    config = config.model_copy(
        update={"http_options": types.HttpOptions(timeout=max(1, int(timeout * 1000)))}
    )

    async def once() -> types.GenerateContentResponse:
        try:
            return await client.aio.models.generate_content(
                model=model, contents=contents, config=config
            )
        except genai_errors.APIError as exc:
            raise _api_error(exc, what) from exc
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"{what}: no answer within {timeout:g}s",
                ErrorCategory.TIMEOUT,
            ) from exc
        except httpx.TransportError as exc:
            raise RetryableProviderError(
                f"{what}: cannot reach the provider ({exc.__class__.__name__})"
            ) from exc
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:
            raise ProviderError(
                f"{what}: the provider answered with malformed JSON",
                ErrorCategory.MALFORMED_RESPONSE,
            ) from exc
        except GoogleAuthError as exc:
            raise ProviderError(
                f"{what}: Google credentials failed ({exc.__class__.__name__})",
                ErrorCategory.CONFIGURATION,
            ) from exc

    return await with_retries(once, RetryPolicy.from_settings(settings))


def refusal_reason(response: types.GenerateContentResponse) -> str:
    """Why a reply carries no usable content (block reason, finish reason), for messages."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        return f"prompt blocked ({_enum_name(feedback.block_reason)})"
    if not response.candidates:
        return "no candidates"
    reason = response.candidates[0].finish_reason
    if reason is not None and _enum_name(reason) != "STOP":
        return f"finish reason {_enum_name(reason)}"
    return "the reply had no usable content"


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value))


def inline_images(response: types.GenerateContentResponse) -> list[tuple[bytes, str]]:
    images: list[tuple[bytes, str]] = []
    for candidate in response.candidates or []:
        for part in (candidate.content.parts if candidate.content else None) or []:
            blob = part.inline_data
            if blob is not None and blob.data:
                images.append((blob.data, blob.mime_type or "image/png"))
    return images


def reply_text(response: types.GenerateContentResponse) -> str:
    texts = [
        part.text
        for candidate in (response.candidates or [])[:1]
        for part in (candidate.content.parts if candidate.content else None) or []
        if part.text and not part.thought
    ]
    return "".join(texts)


def usage(response: types.GenerateContentResponse) -> dict[str, Any]:
    meta = response.usage_metadata
    if meta is None:
        return {}
    return {
        "prompt_tokens": meta.prompt_token_count,
        "output_tokens": meta.candidates_token_count,
        "total_tokens": meta.total_token_count,
    }
