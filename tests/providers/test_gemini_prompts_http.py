"""The `gemini` ai_core backend through the prompt endpoint, against the fake Gemini API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.providers.genai import genai_client
from tests.conftest import TestUser
from tests.fakes.gemini import GEMINI_KEY, FakeGemini

URL = "/api/v1/prompts/create-for-generation"
BODY = {"subject_description": "woman with short grey hair", "shot_type": "full-body-front"}


@pytest.fixture
async def gemini_model(
    client: httpx.AsyncClient,
    superuser: TestUser,
    settings: Settings,
    fake_gemini: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[dict[str, Any]]:
    for key, value in {
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": fake_gemini.base_url,
        "LLM_TIMEOUT_SECONDS": 3.0,
        "PROVIDER_RETRY_BASE_DELAY_SECONDS": 0.01,
        "PROVIDER_RETRY_MAX_DELAY_SECONDS": 0.02,
    }.items():
        monkeypatch.setattr(settings, key, value)
    # Building a google-genai client takes a few hundred ms the first time; keep that out of
    # the short LLM budget these tests use.
    await genai_client(settings)
    r = await client.post(
        "/api/v1/generation-models/",
        json={
            "name": "Gemini prompt LLM",
            "provider": "ai_core",
            "provider_config": {"ai_provider": "gemini", "model": "gemini-2.5-flash"},
            "provider_capabilities": ["TEXT_GENERATION", "VISION"],
            "tool_types": ["PROMPT_GENERATION"],
            "recommended": True,
        },
        headers=superuser.headers,
    )
    assert r.status_code == 200, r.text
    try:
        yield r.json()
    finally:
        await client.delete(
            f"/api/v1/generation-models/{r.json()['id']}", headers=superuser.headers
        )


async def test_gemini_enhances_the_prompt(
    client: httpx.AsyncClient, user: TestUser, fake_gemini: FakeGemini, gemini_model: Any
) -> None:
    fake_gemini.reply, fake_gemini.text = "text_only", "Enhanced prompt: grey-haired model, 85mm"
    r = await client.post(URL, json=BODY, headers=user.headers)
    assert r.status_code == 200, r.text
    entry = r.json()["prompts"]["full-body-front"]
    assert (entry["source"], entry["prompt"]) == ("llm", "grey-haired model, 85mm"), (
        entry.get("enhancement_error"),
        entry.get("template"),
        len(fake_gemini.generate_calls),
    )
    call = fake_gemini.generate_calls[0]
    assert call.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert "fashion" in call.body["systemInstruction"]["parts"][0]["text"]


@pytest.mark.parametrize(
    ("mode", "error"),
    [("hang", "timeout"), ("malformed", "malformed_response"), ("error", "invalid_input")],
)
async def test_gemini_failures_fall_back_to_the_chain(
    client: httpx.AsyncClient,
    user: TestUser,
    fake_gemini: FakeGemini,
    gemini_model: Any,
    mode: str,
    error: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "LLM_TIMEOUT_SECONDS", 0.5)
    fake_gemini.control.mode = mode
    r = await client.post(URL, json=BODY, headers=user.headers)
    assert r.status_code == 200, r.text
    entry = r.json()["prompts"]["full-body-front"]
    assert (entry["source"], entry["enhancement_error"]) == ("chain", error)


async def test_gemini_rate_limit_retried(
    client: httpx.AsyncClient, user: TestUser, fake_gemini: FakeGemini, gemini_model: Any
) -> None:
    fake_gemini.reply = "text_only"
    fake_gemini.control.flaky_count, fake_gemini.control.flaky_status = 1, 429
    r = await client.post(URL, json=BODY, headers=user.headers)
    assert r.json()["prompts"]["full-body-front"]["source"] == "llm"
    assert len(fake_gemini.generate_calls) == 2
