"""A fake LLM server for the prompt tests, and an `ai_core` generation model pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.prompts.llm import forget_models
from tests.conftest import TestUser, UserFactory
from tests.fakes.llm import ANTHROPIC_KEY, OPENAI_KEY, FakeLLM
from tests.fakes.server import serve


@pytest.fixture(scope="session")
def _llm_server() -> Iterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    with serve(fake.app()) as url:
        yield fake, url


@pytest.fixture
def fake_llm(_llm_server: tuple[FakeLLM, str]) -> FakeLLM:
    fake = _llm_server[0]
    fake.mode, fake.reply, fake.delay = "ok", None, 2.0
    fake.requests.clear()
    return fake


@pytest.fixture
def llm_url(_llm_server: tuple[FakeLLM, str]) -> str:
    return _llm_server[1]


def llm_overrides(url: str) -> dict[str, Any]:
    return {
        "OPENAI_BASE_URL": f"{url}/v1",
        "OPENAI_API_KEY": OPENAI_KEY,
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "OLLAMA_HOST": url,
        "LLM_TIMEOUT_SECONDS": 5.0,
    }


@pytest.fixture
def llm_settings(settings: Settings, llm_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The running app's settings, pointed at the fake LLM for this test only."""
    for key, value in llm_overrides(llm_url).items():
        monkeypatch.setattr(settings, key, value)
    return settings


@pytest.fixture
async def admin(make_user: UserFactory) -> TestUser:
    return await make_user(superuser=True)


@pytest.fixture
async def ai_core_model(
    client: httpx.AsyncClient, admin: TestUser, llm_settings: Settings
) -> AsyncIterator[dict[str, Any]]:
    """A prompt-generation LLM model; generation models are global, so it is removed after."""
    r = await client.post(
        "/api/v1/generation-models/",
        json={
            "name": "Prompt LLM",
            "provider": "ai_core",
            "provider_config": {"ai_provider": "openai", "model": "gpt-4o"},
            "provider_capabilities": ["TEXT_GENERATION", "VISION"],
            "tool_types": ["PROMPT_GENERATION"],
            "recommended": True,
        },
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    model = r.json()
    # Generation models are edited by another service: the prompt code's short-lived cache
    # would otherwise see the change only after it expires.
    forget_models()
    try:
        yield model
    finally:
        await client.delete(f"/api/v1/generation-models/{model['id']}", headers=admin.headers)
        forget_models()
