"""AI-core text providers against the fake LLM server (real wire protocols)."""

from __future__ import annotations

import pytest

from app.core.config import Settings
from app.providers.ai_core import (
    TEXT_PROVIDERS,
    AnthropicTextProvider,
    OllamaTextProvider,
    OpenAITextProvider,
    build_text_provider,
    register_text_provider,
)
from app.providers.base import ErrorCategory, InputImage, ProviderError, TextProvider
from app.providers.configs import AiCoreProviderConfig
from tests.conftest import make_settings
from tests.fakes.llm import OPENAI_KEY, FakeLLM
from tests.prompts.conftest import llm_overrides

PNG = InputImage(data=b"\x89PNG fake", mime_type="image/png")


@pytest.fixture
def cfg(database_url: str, llm_url: str) -> Settings:
    return make_settings(database_url, **llm_overrides(llm_url))


def provider(cfg: Settings, backend: str, **config: object) -> TextProvider:
    return build_text_provider(AiCoreProviderConfig(ai_provider=backend, **config), cfg)


async def test_openai_chat_completions(cfg: Settings, fake_llm: FakeLLM) -> None:
    text = await provider(cfg, "openai", model="gpt-4o").complete(
        system="be brief", prompt="a red dress", seed=7, top_p=0.9
    )
    assert text == "LLM<openai>: a red dress"
    path, headers, body = fake_llm.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "a red dress"},
        ],
        "max_tokens": 1024,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 7,
    }


async def test_openai_reasoning_model_fallbacks(cfg: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.mode = "reasoning"
    text = await provider(cfg, "openai", model="o3-mini").complete(system=None, prompt="hi")
    assert text == "LLM<openai>: hi"
    bodies = [body for _, _, body in fake_llm.requests]
    assert len(bodies) == 3
    assert "max_tokens" in bodies[0]
    assert bodies[-1]["max_completion_tokens"] == 1024 and "max_tokens" not in bodies[-1]
    assert "temperature" not in bodies[-1]


async def test_openai_images_and_missing_key(
    cfg: Settings, fake_llm: FakeLLM, database_url: str
) -> None:
    fake_llm.reply = lambda _s, user, images: f"{images} images, {user}"
    text = await provider(cfg, "openai").complete(system=None, prompt="look", images=[PNG, PNG])
    assert text == "2 images, look"
    content = fake_llm.requests[0][2]["messages"][-1]["content"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    keyless = make_settings(database_url, OPENAI_BASE_URL=cfg.OPENAI_BASE_URL)
    with pytest.raises(ProviderError) as info:
        await provider(keyless, "openai").complete(system=None, prompt="x")
    assert info.value.category == ErrorCategory.CONFIGURATION
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize("backend", ["openai", "anthropic", "ollama"])
@pytest.mark.parametrize(
    ("mode", "category"),
    [
        ("error", ErrorCategory.PROVIDER_ERROR),
        ("malformed", ErrorCategory.MALFORMED_RESPONSE),
        ("not_json", ErrorCategory.MALFORMED_RESPONSE),
    ],
)
async def test_failures_become_provider_errors(
    cfg: Settings, fake_llm: FakeLLM, backend: str, mode: str, category: ErrorCategory
) -> None:
    fake_llm.mode = mode
    with pytest.raises(ProviderError) as info:
        await provider(cfg, backend).complete(system=None, prompt="x")
    assert info.value.category == category


async def test_rate_limit_and_timeout(cfg: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.mode = "rate_limited"
    for backend in ("openai", "anthropic"):
        with pytest.raises(ProviderError) as info:
            await provider(cfg, backend).complete(system=None, prompt="x")
        assert info.value.category == ErrorCategory.RATE_LIMITED
    fake_llm.mode, fake_llm.delay = "slow", 1.0
    cfg.LLM_TIMEOUT_SECONDS = 0.2
    with pytest.raises(ProviderError) as info:
        await provider(cfg, "ollama").complete(system=None, prompt="x")
    assert info.value.category == ErrorCategory.TIMEOUT


async def test_anthropic_messages(cfg: Settings, fake_llm: FakeLLM) -> None:
    llm = provider(cfg, "anthropic", model="claude-sonnet-4", temperature=1.6, max_tokens=300)
    assert isinstance(llm, AnthropicTextProvider)
    text = await llm.complete(system="sys", prompt="describe", images=[PNG])
    assert text == "LLM<anthropic>: describe"
    path, headers, body = fake_llm.requests[0]
    assert path == "/v1/messages" and headers["anthropic-version"] == "2023-06-01"
    assert body["temperature"] == 1.0  # clamped from 1.6
    assert body["max_tokens"] == 300 and body["system"] == "sys"
    blocks = body["messages"][0]["content"]
    assert blocks[0]["type"] == "image" and blocks[0]["source"]["media_type"] == "image/png"


async def test_ollama_chat(cfg: Settings, fake_llm: FakeLLM) -> None:
    llm = provider(cfg, "ollama", model="llama3.1")
    assert isinstance(llm, OllamaTextProvider)
    text = await llm.complete(system="s", prompt="p", images=[PNG], seed=3)
    assert text == "LLM<ollama>: p"
    body = fake_llm.requests[0][2]
    assert body["stream"] is False
    assert body["options"] == {"num_predict": 1024, "temperature": 0.7, "seed": 3}
    assert body["messages"][-1]["images"]
    with pytest.raises(ProviderError) as info:
        await provider(cfg, "ollama", model="missing").complete(system=None, prompt="p")
    assert info.value.category == ErrorCategory.CONFIGURATION


async def test_dispatch(cfg: Settings) -> None:
    assert isinstance(provider(cfg, "openai"), OpenAITextProvider)
    with pytest.raises(ProviderError) as info:
        provider(cfg, "nope")
    assert info.value.category == ErrorCategory.CONFIGURATION

    class Echo(TextProvider):
        def __init__(self, config: AiCoreProviderConfig, settings: Settings) -> None:
            self.model = config.model

        async def complete(self, *, system: str | None, prompt: str, **_: object) -> str:  # type: ignore[override]
            return f"{self.model}:{prompt}"

    register_text_provider("echo", Echo)
    try:
        assert await provider(cfg, "echo", model="m").complete(system=None, prompt="p") == "m:p"
    finally:
        TEXT_PROVIDERS.pop("echo")
