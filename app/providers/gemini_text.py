"""The `gemini` backend of the AI-core text provider: generateContent with a text reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.genai import types

from app.core.config import Settings
from app.core.config import settings as default_settings
from app.providers.base import ErrorCategory, InputImage, ProviderError, TextProvider
from app.providers.configs import AiCoreProviderConfig
from app.providers.genai import (
    genai_client,
    generate_content,
    image_part,
    refusal_reason,
    reply_text,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials


class GeminiTextProvider(TextProvider):
    def __init__(
        self,
        config: AiCoreProviderConfig,
        settings: Settings | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.config = config
        self.settings = settings or default_settings
        self.credentials = credentials

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
        # Same budget as the other LLM backends.
        timeout = self.settings.LLM_TIMEOUT_SECONDS
        client = await genai_client(self.settings, self.credentials)
        contents: list[Any] = [image_part(image) for image in images or []]
        contents.append(prompt)
        config = types.GenerateContentConfig(
            system_instruction=system or None,
            temperature=temperature if temperature is not None else self.config.temperature,
            top_p=top_p,
            seed=seed,
            max_output_tokens=max_tokens or self.config.max_tokens,
        )
        response = await generate_content(
            client,
            model=self.config.model,
            contents=contents,
            config=config,
            settings=self.settings,
            what=f"gemini {self.config.model}",
            timeout=timeout,
        )
        text = reply_text(response).strip()
        if not text:
            raise ProviderError(
                f"gemini {self.config.model}: empty reply ({refusal_reason(response)})",
                ErrorCategory.PROVIDER_ERROR,
            )
        return text
