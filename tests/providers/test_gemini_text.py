"""The `gemini` AI-core text backend against the fake generateContent endpoint."""

from __future__ import annotations

import pytest

from app.core.config import Settings
from app.providers.base import ErrorCategory, InputImage, ProviderError
from app.providers.configs import AiCoreProviderConfig
from app.providers.gemini_text import GeminiTextProvider
from tests.fakes.gemini import FakeGemini
from tests.fakes.images import png


def gemini(settings: Settings, **config: object) -> GeminiTextProvider:
    config = {"ai_provider": "gemini", "model": "gemini-2.5-flash", **config}
    return GeminiTextProvider(AiCoreProviderConfig.model_validate(config), settings)


async def test_text_reply_and_request_mapping(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.reply, fake_gemini.text = "text_only", "  A model in a linen suit.  "
    text = await gemini(gemini_settings, temperature=0.3, max_tokens=200).complete(
        system="Write prompts.",
        prompt="Describe the shot",
        images=[InputImage(png(8, 8), "image/png", role="product")],
        top_p=0.9,
        seed=5,
    )
    assert text == "A model in a linen suit."
    call = fake_gemini.generate_calls[0]
    assert call.path.endswith("/models/gemini-2.5-flash:generateContent")
    body = call.body
    assert body["systemInstruction"]["parts"][0]["text"] == "Write prompts."
    assert "inlineData" in body["contents"][0]["parts"][0]
    assert body["contents"][0]["parts"][1] == {"text": "Describe the shot"}
    config = body["generationConfig"]
    assert config == {"temperature": 0.3, "topP": 0.9, "seed": 5, "maxOutputTokens": 200}


async def test_call_parameters_override_config(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.reply = "text_only"
    await gemini(gemini_settings).complete(system=None, prompt="x", temperature=1.5, max_tokens=50)
    config = fake_gemini.generate_calls[0].body["generationConfig"]
    assert config["temperature"] == 1.5 and config["maxOutputTokens"] == 50
    assert "systemInstruction" not in fake_gemini.generate_calls[0].body


async def test_blocked_prompt(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    fake_gemini.reply = "blocked"
    with pytest.raises(ProviderError, match="PROHIBITED_CONTENT"):
        await gemini(gemini_settings).complete(system=None, prompt="x")


async def test_retry_then_success(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    fake_gemini.reply = "text_only"
    fake_gemini.control.flaky_count, fake_gemini.control.flaky_status = 2, 503
    assert await gemini(gemini_settings).complete(system=None, prompt="x")
    assert len(fake_gemini.generate_calls) == 3


@pytest.mark.parametrize(
    ("mode", "category"),
    [("hang", ErrorCategory.TIMEOUT), ("malformed", ErrorCategory.MALFORMED_RESPONSE)],
)
async def test_failures(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: str, category: ErrorCategory
) -> None:
    fake_gemini.control.mode = mode
    with pytest.raises(ProviderError) as info:
        await gemini(gemini_settings).complete(system=None, prompt="x")
    assert info.value.category is category
