"""LLM enhancement of /create-for-generation, and its fallbacks (never a 500)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import event

from app.core.config import Settings
from app.models.generation_model import GenerativeModel
from app.prompts.llm import clean_answer, pick_model
from app.providers.enums import GenerationTool, ProviderType
from tests.conftest import TestUser as User
from tests.fakes.llm import FakeLLM

URL = "/api/v1/prompts/create-for-generation"
BODY = {"subject_description": "woman with short grey hair", "shot_type": "full-body-front"}


def _last_line(_system: str | None, user: str, _images: int) -> str:
    return f'"Enhanced prompt: {user.splitlines()[-1]}, 85mm lens"'


async def test_llm_enhances_and_keeps_original(
    client: httpx.AsyncClient, user: User, fake_llm: FakeLLM, ai_core_model: dict[str, Any]
) -> None:
    fake_llm.reply = _last_line
    r = await client.post(URL, json=BODY, headers=user.headers)
    assert r.status_code == 200, r.text
    entry = r.json()["prompts"]["full-body-front"]
    assert entry["source"] == "llm"
    assert entry["template"] == "general"
    assert entry["original_prompt"].startswith("professional fashion")
    # Labels and quotes the LLM adds are stripped.
    assert entry["prompt"] == f"{entry['original_prompt']}, 85mm lens"
    _, _, body = fake_llm.requests[0]
    system = body["messages"][0]
    assert system["role"] == "system" and "fashion e-commerce photo studio" in system["content"]
    assert "Enhancement template: general" in body["messages"][1]["content"]


async def test_template_choice_and_validation(
    client: httpx.AsyncClient, user: User, fake_llm: FakeLLM, ai_core_model: dict[str, Any]
) -> None:
    body = {**BODY, "config": {"enhancement_template": "photorealistic"}}
    r = await client.post(URL, json=body, headers=user.headers)
    assert r.json()["prompts"]["full-body-front"]["template"] == "photorealistic"
    assert "camera and lens" in fake_llm.requests[0][2]["messages"][1]["content"]
    r = await client.post(
        URL, json={**BODY, "config": {"enhancement_template": "baroque"}}, headers=user.headers
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "config", "enhancement_template"]


async def test_one_llm_call_per_shot_type(
    client: httpx.AsyncClient, user: User, fake_llm: FakeLLM, ai_core_model: dict[str, Any]
) -> None:
    body = {"shot_type_string": "full-body-front,full-body-back,detail-front"}
    r = await client.post(URL, json=body, headers=user.headers)
    prompts = r.json()["prompts"]
    assert {p["source"] for p in prompts.values()} == {"llm"}
    assert len(fake_llm.requests) == 3


async def test_failures_fall_back_to_the_chain(
    client: httpx.AsyncClient,
    user: User,
    fake_llm: FakeLLM,
    ai_core_model: dict[str, Any],
    llm_settings: Settings,
) -> None:
    for mode, error in (
        ("error", "provider_error"),
        ("malformed", "malformed_response"),
        ("not_json", "malformed_response"),
        ("rate_limited", "rate_limited"),
    ):
        fake_llm.mode = mode
        r = await client.post(URL, json=BODY, headers=user.headers)
        assert r.status_code == 200, mode
        entry = r.json()["prompts"]["full-body-front"]
        assert entry["source"] == "chain", mode
        assert entry["enhancement_error"] == error, mode
        assert entry["prompt"] == entry["original_prompt"]
    # A runaway answer is not a prompt.
    fake_llm.mode, fake_llm.reply = "ok", lambda *_: "word " * 5000
    r = await client.post(URL, json=BODY, headers=user.headers)
    entry = r.json()["prompts"]["full-body-front"]
    assert (entry["source"], entry["enhancement_error"]) == ("chain", "malformed_response")
    fake_llm.mode, fake_llm.delay = "slow", 1.0
    llm_settings.LLM_TIMEOUT_SECONDS = 0.2
    r = await client.post(URL, json=BODY, headers=user.headers)
    entry = r.json()["prompts"]["full-body-front"]
    assert (entry["source"], entry["enhancement_error"]) == ("chain", "timeout")


async def test_missing_key_falls_back(
    client: httpx.AsyncClient,
    user: User,
    fake_llm: FakeLLM,
    ai_core_model: dict[str, Any],
    llm_settings: Settings,
) -> None:
    llm_settings.OPENAI_API_KEY = None
    r = await client.post(URL, json=BODY, headers=user.headers)
    entry = r.json()["prompts"]["full-body-front"]
    assert (entry["source"], entry["enhancement_error"]) == ("chain", "configuration")
    assert fake_llm.requests == []


async def test_no_llm_paths(
    client: httpx.AsyncClient, user: User, fake_llm: FakeLLM, ai_core_model: dict[str, Any]
) -> None:
    r = await client.post(URL, json={**BODY, "auto_generate_prompt": False}, headers=user.headers)
    assert r.json()["prompts"]["full-body-front"]["source"] == "chain"
    r = await client.post(
        URL,
        json={**BODY, "auto_generate_prompt": False, "generated_prompt": "mine"},
        headers=user.headers,
    )
    assert r.json()["prompts"]["full-body-front"]["source"] == "user"
    r = await client.post("/api/v1/prompts/compose", json={}, headers=user.headers)
    assert r.status_code == 200
    assert fake_llm.requests == []


async def test_without_ai_core_model_the_chain_answers(
    client: httpx.AsyncClient, user: User, fake_llm: FakeLLM
) -> None:
    r = await client.post(URL, json=BODY, headers=user.headers)
    entry = r.json()["prompts"]["full-body-front"]
    assert (entry["source"], entry["template"], entry["enhancement_error"]) == (
        "chain",
        None,
        None,
    )
    assert fake_llm.requests == []


def _model(
    name: str, tools: list[str], *, recommended: bool = False, vision: bool = False
) -> GenerativeModel:
    return GenerativeModel(
        id=uuid.uuid4(),
        name=name,
        provider=ProviderType.AI_CORE,
        provider_config={},
        provider_capabilities=["VISION"] if vision else ["TEXT_GENERATION"],
        tool_types=tools,
        recommended=recommended,
    )


def test_pick_model_preference() -> None:
    any_model = _model("any", [])
    tool = _model("tool", ["PROMPT_GENERATION"], vision=True)
    best = _model("best", ["PROMPT_GENERATION"], recommended=True)
    pg = GenerationTool.PROMPT_GENERATION
    assert pick_model([any_model, tool, best], pg) is best
    assert pick_model([any_model, tool], pg) is tool
    assert pick_model([any_model], pg) is any_model
    assert pick_model([any_model, best], pg, vision=True) is None
    assert pick_model([any_model, tool, best], pg, vision=True) is tool
    assert pick_model([], pg) is None
    # A model an admin declared for another job is not borrowed for prompts.
    judge = _model("judge", ["EVALUATION"], recommended=True, vision=True)
    assert pick_model([judge], pg) is None
    assert pick_model([judge, any_model], pg) is any_model


def test_clean_answer() -> None:
    assert clean_answer('  "Prompt: a  red\n dress"  ') == "a red dress"
    assert clean_answer("plain") == "plain"


async def test_database_connection_is_released_during_the_llm_call(
    app: Any,
    client: httpx.AsyncClient,
    user: User,
    fake_llm: FakeLLM,
    ai_core_model: dict[str, Any],
) -> None:
    # Connections held by this request's task only: the shared app's background tasks
    # (webhook polling, the sweeper) check connections out at random moments.
    pool = app.state.db.engine.sync_engine.pool
    request_task = asyncio.current_task()
    held: dict[int, asyncio.Task[Any] | None] = {}

    def on_checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        held[id(record)] = asyncio.current_task()

    def on_checkin(_dbapi: Any, record: Any) -> None:
        held.pop(id(record), None)

    seen: list[int] = []

    def reply(_system: str | None, user_text: str, _images: int) -> str:
        # Only this request's call: another test's work may still be asking the fake LLM.
        if BODY["subject_description"] in user_text:
            seen.append(sum(1 for task in held.values() if task is request_task))
        return "enhanced"

    fake_llm.reply = reply
    event.listen(pool, "checkout", on_checkout)
    event.listen(pool, "checkin", on_checkin)
    try:
        r = await client.post(URL, json=BODY, headers=user.headers)
    finally:
        event.remove(pool, "checkout", on_checkout)
        event.remove(pool, "checkin", on_checkin)
    assert r.json()["prompts"]["full-body-front"]["prompt"] == "enhanced"
    assert seen == [0]
