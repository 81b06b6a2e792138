"""AI-core text providers: the LLM backends of `ai_core` generation models.

One `TextProvider` per backend, speaking its REST protocol through the shared httpx client:
- `openai`: Chat Completions (`{base}/chat/completions`); models that refuse `max_tokens`
  (reasoning models) get `max_completion_tokens`, and an unsupported `temperature`/`top_p`
  is dropped, each on a retry driven by the 400 the API answers;
- `anthropic`: Messages (`{base}/v1/messages`); temperature clamped to 0..1;
- `ollama`: `{host}/api/chat` with `stream: false`.

`build_text_provider` dispatches on `AiCoreProviderConfig.ai_provider` through
`TEXT_PROVIDERS` (`gemini` lives in `gemini_text.py`, on google-genai); other backends can
be added with `register_text_provider`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx

from app.core.config import Settings
from app.core.http import get_http_client
from app.providers.base import ErrorCategory, InputImage, ProviderError, TextProvider
from app.providers.configs import AiCoreProviderConfig
from app.providers.gemini_text import GeminiTextProvider
from app.providers.transport import data_uri

DEFAULT_MAX_TOKENS = 1024
_RETRYABLE_PARAMS = ("max_tokens", "temperature", "top_p", "seed")


class LlmHttpError(ProviderError):
    """The backend answered with an HTTP error; its status and decoded body are kept."""

    def __init__(self, message: str, status_code: int, body: Any) -> None:
        super().__init__(message, _category_for_status(status_code))
        self.status_code = status_code
        self.body = body


def _category_for_status(status: int) -> ErrorCategory:
    if status == 429:
        return ErrorCategory.RATE_LIMITED
    if status in (401, 403, 404):
        return ErrorCategory.CONFIGURATION
    if status in (400, 413, 422):
        return ErrorCategory.INVALID_INPUT
    return ErrorCategory.PROVIDER_ERROR


def _error_message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("type") or error)
        if error:
            return str(error)
    return "no error message"


class _HttpTextProvider(TextProvider):
    backend = "llm"

    def __init__(self, config: AiCoreProviderConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings

    @property
    def max_tokens(self) -> int:
        return self.config.max_tokens or DEFAULT_MAX_TOKENS

    def _temperature(self, temperature: float | None) -> float | None:
        return self.config.temperature if temperature is None else temperature

    async def _post(self, url: str, payload: dict[str, Any], headers: dict[str, str]) -> Any:
        """POST JSON; returns the decoded body of a 2xx answer or raises ProviderError."""
        try:
            response = await get_http_client().post(
                url, json=payload, headers=headers, timeout=self.settings.LLM_TIMEOUT_SECONDS
            )
        except httpx.TimeoutException as exc:
            raise ProviderError(f"{self.backend} timed out", ErrorCategory.TIMEOUT) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"{self.backend} unreachable: {exc.__class__.__name__}",
                ErrorCategory.PROVIDER_ERROR,
            ) from exc
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if response.status_code >= 400:
            raise LlmHttpError(
                f"{self.backend} answered HTTP {response.status_code}: "
                + self.settings.redact(_error_message(body)),
                response.status_code,
                body,
            )
        if body is None:
            raise ProviderError(
                f"{self.backend} answered with non-JSON content", ErrorCategory.MALFORMED_RESPONSE
            )
        return body

    @staticmethod
    def _text(value: Any, backend: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ProviderError(
                f"{backend} answered without text", ErrorCategory.MALFORMED_RESPONSE
            )
        return value.strip()


class OpenAITextProvider(_HttpTextProvider):
    backend = "openai"

    async def complete(
        self,
        *,
        system: str | None,
        prompt: str,
        images: list[InputImage] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> str:
        if not self.settings.OPENAI_API_KEY:
            raise ProviderError("OPENAI_API_KEY is not set", ErrorCategory.CONFIGURATION)
        content: Any = prompt
        if images:
            content = [{"type": "text", "text": prompt}] + [
                {"type": "image_url", "image_url": {"url": data_uri(image)}} for image in images
            ]
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": content})
        payload: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "max_tokens": max_tokens or self.max_tokens,
        }
        for key, value in (
            ("temperature", self._temperature(temperature)),
            ("top_p", top_p),
            ("seed", seed),
        ):
            if value is not None:
                payload[key] = value
        url = self.settings.OPENAI_BASE_URL.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {self.settings.OPENAI_API_KEY}"}
        for _ in range(len(_RETRYABLE_PARAMS) + 1):
            try:
                body = await self._post(url, payload, headers)
                break
            except LlmHttpError as exc:
                if not self._adapt(payload, exc):
                    raise
        else:
            raise ProviderError("openai refused every parameter variant")
        try:
            message = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderError(
                "openai answer has no choices[0].message.content",
                ErrorCategory.MALFORMED_RESPONSE,
            ) from exc
        return self._text(message, self.backend)

    @staticmethod
    def _adapt(payload: dict[str, Any], exc: LlmHttpError) -> bool:
        """Adjust the request after a 400 naming an unsupported parameter; False if not that."""
        if exc.status_code != 400:
            return False
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        if not isinstance(error, dict):
            return False
        param = error.get("param")
        if param == "max_tokens" and "max_tokens" in payload:
            # Reasoning models only take `max_completion_tokens`.
            payload["max_completion_tokens"] = payload.pop("max_tokens")
            return True
        if param in ("temperature", "top_p", "seed") and param in payload:
            del payload[param]
            return True
        return False


class AnthropicTextProvider(_HttpTextProvider):
    backend = "anthropic"
    API_VERSION = "2023-06-01"

    async def complete(
        self,
        *,
        system: str | None,
        prompt: str,
        images: list[InputImage] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> str:
        if not self.settings.ANTHROPIC_API_KEY:
            raise ProviderError("ANTHROPIC_API_KEY is not set", ErrorCategory.CONFIGURATION)
        content: Any = prompt
        if images:
            content = [
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": image.mime_type,
                        "data": base64.b64encode(image.data).decode(),
                    },
                }
                for image in images
            ] + [{"type": "text", "text": prompt}]
        payload: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": max_tokens or self.max_tokens,
            "messages": [{"role": "user", "content": content}],
        }
        if system:
            payload["system"] = system
        value = self._temperature(temperature)
        if value is not None:
            # Anthropic accepts 0..1; our configs use OpenAI's 0..2.
            payload["temperature"] = min(max(value, 0.0), 1.0)
        if top_p is not None:
            payload["top_p"] = top_p
        headers = {
            "x-api-key": self.settings.ANTHROPIC_API_KEY,
            "anthropic-version": self.API_VERSION,
        }
        url = self.settings.ANTHROPIC_BASE_URL.rstrip("/") + "/v1/messages"
        body = await self._post(url, payload, headers)
        blocks = body.get("content") if isinstance(body, dict) else None
        if not isinstance(blocks, list):
            raise ProviderError(
                "anthropic answer has no content blocks", ErrorCategory.MALFORMED_RESPONSE
            )
        text = "".join(
            block.get("text", "")
            for block in blocks
            if isinstance(block, dict) and block.get("type") == "text"
        )
        return self._text(text, self.backend)


class OllamaTextProvider(_HttpTextProvider):
    backend = "ollama"

    async def complete(
        self,
        *,
        system: str | None,
        prompt: str,
        images: list[InputImage] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> str:
        user: dict[str, Any] = {"role": "user", "content": prompt}
        if images:
            user["images"] = [base64.b64encode(image.data).decode() for image in images]
        messages = [{"role": "system", "content": system}] if system else []
        messages.append(user)
        options: dict[str, Any] = {"num_predict": max_tokens or self.max_tokens}
        for key, value in (
            ("temperature", self._temperature(temperature)),
            ("top_p", top_p),
            ("seed", seed),
        ):
            if value is not None:
                options[key] = value
        # Without `stream: false` Ollama answers with NDJSON chunks.
        payload = {
            "model": self.config.model,
            "messages": messages,
            "stream": False,
            "options": options,
        }
        body = await self._post(self.settings.OLLAMA_HOST.rstrip("/") + "/api/chat", payload, {})
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict):
            raise ProviderError("ollama answer has no message", ErrorCategory.MALFORMED_RESPONSE)
        return self._text(message.get("content"), self.backend)


TextProviderFactory = Callable[[AiCoreProviderConfig, Settings], TextProvider]

TEXT_PROVIDERS: dict[str, TextProviderFactory] = {
    "openai": OpenAITextProvider,
    "anthropic": AnthropicTextProvider,
    "ollama": OllamaTextProvider,
    "gemini": GeminiTextProvider,
}


def register_text_provider(ai_provider: str, factory: TextProviderFactory) -> None:
    TEXT_PROVIDERS[ai_provider] = factory


def build_text_provider(config: AiCoreProviderConfig, settings: Settings) -> TextProvider:
    factory = TEXT_PROVIDERS.get(config.ai_provider)
    if factory is None:
        known = ", ".join(sorted(TEXT_PROVIDERS))
        raise ProviderError(
            f"no text provider for ai_provider {config.ai_provider!r} (known: {known})",
            ErrorCategory.CONFIGURATION,
        )
    return factory(config, settings)
