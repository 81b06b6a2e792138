"""AGENTIC generations: scored attempts, retries with a new seed and a reinforced prompt, the
best result kept, the vision-LLM judge and its fallback, and the request's `config` checks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.providers.enums import ProviderType
from app.providers.registry import registry
from tests.fakes import garments
from tests.generations.conftest import ModelFactory, scripted
from tests.generations.helpers import data_url, wait_for

if TYPE_CHECKING:
    from tests.conftest import TestUser
    from tests.fakes.llm import FakeLLM

URL = "/api/v1/generations/"
RED = (200, 30, 30)


@pytest.fixture
def garment_provider() -> Iterator[None]:
    saved = (
        registry._factories.get(ProviderType.FAL_STANDARD),
        registry._capabilities.get(ProviderType.FAL_STANDARD),
    )
    garments.register(registry)
    garments.PROMPTS.clear()
    yield
    if saved[0] is None:
        registry.unregister(ProviderType.FAL_STANDARD)
    else:
        registry.register(ProviderType.FAL_STANDARD, saved[0], saved[1])


async def _garment_model(make_model: ModelFactory, mode: str) -> dict[str, Any]:
    return await make_model(
        name=f"garments {mode}",
        provider_config={"additional_static_params": {"mode": mode, "garment": "#C81E1E"}},
    )


def _body(model: dict[str, Any], **config: Any) -> dict[str, Any]:
    return {
        "generation_type": "AGENTIC",
        "generative_models_id": model["id"],
        "batch_size": 1,
        "seed": 11,
        "width": 96,
        "height": 128,
        "product_image": data_url(RED),
        "product_description": "red wool coat",
        "config": config,
    }


async def test_low_scores_retry_with_an_adjusted_prompt_until_the_threshold(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, garment_provider: None
) -> None:
    model = await _garment_model(make_model, "until_adjusted")
    r = await client.post(URL, json=_body(model), headers=user.headers)
    assert r.status_code == 202, r.text
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "COMPLETED", done
    (prediction,) = done["predictions"]
    evaluation = prediction["evaluation"]
    assert evaluation["max_attempts"] == 3 and evaluation["min_confidence_score"] == 0.7
    first, second = evaluation["attempts"]  # passed on the second: no third attempt
    assert first["evaluator"] == "local" and first["passed"] is False
    colour = next(c for c in first["criteria"] if c["name"] == "garment_colour")
    assert colour["score"] < 0.2 and colour["value"] > 36  # delta E
    assert colour["detail"]["product_colour"] == "#C81E1E"
    assert first["adjustments"] == []
    # The second attempt: a new seed, and the prompt insists on the product's colour.
    assert second["seed"] != first["seed"]
    assert second["adjustments"] == ["garment_colour"]
    assert "exactly red (#C81E1E), the same colour as the product image" in second["prompt"]
    assert "red wool coat" in second["prompt"]
    assert "wrong garment colour" in second["negative_prompt"]
    assert second["passed"] is True and second["score"] >= 0.7
    assert [first["prompt"], second["prompt"]] == garments.PROMPTS
    assert evaluation["best_attempt"] == 2 and evaluation["passed"] is True
    # The kept image is the second attempt's; the manifest says how it was made.
    assert prediction["result_sha256"] == second["result_sha256"]
    manifest = prediction["manifest"]
    assert manifest["seed"] == second["seed"]
    assert manifest["prompt"] == second["prompt"]
    assert manifest["agentic"]["kept_attempt"] == 2
    assert [a["outcome"] for a in prediction["attempts"]] == ["success", "success"]

    # Replaying the agentic prediction reproduces the kept image in one run.
    replay = await client.post(
        f"/api/v1/predictions/{prediction['id']}/replay", headers=user.headers
    )
    assert replay.status_code == 202, replay.text
    assert replay.json()["generation_type"] == "BASE"
    again = await wait_for(client, replay.json()["id"], user.headers)
    assert again["predictions"][0]["result_sha256"] == prediction["result_sha256"]


async def test_never_passing_stops_at_max_attempts_and_keeps_the_best(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, garment_provider: None
) -> None:
    model = await _garment_model(make_model, "never")
    body = _body(model, max_attempts=3, min_confidence_score=0.8, evaluation_provider="local")
    r = await client.post(URL, json=body, headers=user.headers)
    assert r.status_code == 202, r.text
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "COMPLETED", done
    (prediction,) = done["predictions"]
    evaluation = prediction["evaluation"]
    attempts = evaluation["attempts"]
    assert len(attempts) == 3
    assert len({a["seed"] for a in attempts}) == 3
    assert all(a["status"] == "scored" and not a["passed"] for a in attempts)
    scores = [a["score"] for a in attempts]
    assert len(set(scores)) == 3  # the test provider misses by a different amount each time
    best = max(range(3), key=lambda i: scores[i])
    assert evaluation["best_attempt"] == best + 1
    assert evaluation["score"] == scores[best] and evaluation["passed"] is False
    assert prediction["result_sha256"] == attempts[best]["result_sha256"]
    assert prediction["manifest"]["seed"] == attempts[best]["seed"]
    assert len(prediction["attempts"]) == 3  # one provider call per attempt


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 11}, "max_attempts"),
        ({"max_attempts": "3"}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"min_confidence_score": 1.5}, "min_confidence_score"),
        ({"min_confidence_score": "high"}, "min_confidence_score"),
        ({"evaluation_provider": "gpt"}, "evaluation_provider"),
        # No ai_core model with tool EVALUATION is configured.
        ({"evaluation_provider": "llm"}, "evaluation_provider"),
        ({"callback_url": "ftp://example.com/hook"}, "callback_url"),
        ({"callback_url": "http://10.0.0.7/hook"}, "callback_url"),
        ({"callback_url": 42}, "callback_url"),
    ],
)
async def test_config_is_checked_at_creation(
    client: httpx.AsyncClient, user: TestUser, config: dict[str, Any], field: str
) -> None:
    r = await client.post(
        URL,
        json={"generation_type": "AGENTIC", "width": 64, "height": 64, "config": config},
        headers=user.headers,
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "config", field]


async def _judge_model(client: httpx.AsyncClient, superuser: TestUser) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/generation-models/",
        json={
            "name": "Vision judge",
            "provider": "ai_core",
            "provider_config": {"ai_provider": "openai", "model": "gpt-4o"},
            "provider_capabilities": ["TEXT_GENERATION", "VISION"],
            "tool_types": ["EVALUATION"],
        },
        headers=superuser.headers,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _judge_reply(score: float) -> Any:
    def reply(system: str | None, user: str, images: int) -> str:
        if system and "quality judge" in system:
            assert images == 2  # the result and the product
            verdict = {"score": score, "garment_fidelity": score, "issues": ["sleeves too long"]}
            return "```json\n" + json.dumps(verdict) + "\n```"
        return user  # prompt enhancement: unchanged

    return reply


async def test_llm_judge_scores_when_configured(
    client: httpx.AsyncClient,
    user: TestUser,
    superuser: TestUser,
    make_model: ModelFactory,
    garment_provider: None,
    fake_llm: FakeLLM,
    llm_settings: Any,
) -> None:
    judge = await _judge_model(client, superuser)
    try:
        fake_llm.reply = _judge_reply(0.4)
        model = await _garment_model(make_model, "until_adjusted")
        body = _body(model, max_attempts=2, evaluation_provider="llm")
        r = await client.post(URL, json=body, headers=user.headers)
        assert r.status_code == 202, r.text
        done = await wait_for(client, r.json()["id"], user.headers)
    finally:
        await client.delete(f"/api/v1/generation-models/{judge['id']}", headers=superuser.headers)
    evaluation = done["predictions"][0]["evaluation"]
    assert evaluation["judge_model"] == "Vision judge"
    attempts = evaluation["attempts"]
    assert [a["evaluator"] for a in attempts] == ["llm:Vision judge"] * 2
    assert [a["score"] for a in attempts] == [0.4, 0.4]
    assert attempts[0]["issues"] == ["sleeves too long"]
    # The judge's low garment score and its issues shape the second prompt.
    assert attempts[1]["adjustments"] == ["garment_colour", "issues"]
    assert "correct: sleeves too long" in attempts[1]["prompt"]
    judged = [body for path, _h, body in fake_llm.requests if "quality judge" in str(body)]
    assert len(judged) == 2


async def test_failing_judge_falls_back_to_the_local_evaluator(
    client: httpx.AsyncClient,
    user: TestUser,
    superuser: TestUser,
    make_model: ModelFactory,
    garment_provider: None,
    fake_llm: FakeLLM,
    llm_settings: Any,
) -> None:
    judge = await _judge_model(client, superuser)
    try:
        model = await _garment_model(make_model, "until_adjusted")
        fake_llm.mode = "error"  # prompt enhancement then keeps the deterministic prompt
        r = await client.post(URL, json=_body(model, max_attempts=1), headers=user.headers)
        assert r.status_code == 202, r.text
        done = await wait_for(client, r.json()["id"], user.headers)
    finally:
        await client.delete(f"/api/v1/generation-models/{judge['id']}", headers=superuser.headers)
    (attempt,) = done["predictions"][0]["evaluation"]["attempts"]
    assert attempt["evaluator"] == "local"
    assert "judge failed" in attempt["evaluator_fallback_reason"]
    assert attempt["score"] < 0.7


async def test_agentic_result_hash_matches_its_stored_image(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, garment_provider: None
) -> None:
    model = await _garment_model(make_model, "until_adjusted")
    r = await client.post(URL, json=_body(model, max_attempts=1), headers=user.headers)
    done = await wait_for(client, r.json()["id"], user.headers)
    (prediction,) = done["predictions"]
    image = await client.get(prediction["result_image_url"], headers=user.headers)
    assert (
        hashlib.sha256(image.content).hexdigest()
        == prediction["evaluation"]["attempts"][0]["result_sha256"]
    )
    # One attempt allowed: kept although it failed the threshold.
    assert prediction["evaluation"]["passed"] is False


async def test_attempts_that_all_fail_are_recorded_on_the_failed_prediction(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    model = await make_model(name="always failing", provider_config=scripted("fail"))
    body = _body(model, max_attempts=2)
    r = await client.post(URL, json=body, headers=user.headers)
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "FAILED"
    (prediction,) = done["predictions"]
    attempts = prediction["evaluation"]["attempts"]
    assert [(a["status"], a["score"]) for a in attempts] == [("error", None), ("error", None)]
    assert "scripted failure" in attempts[0]["error"]
    assert prediction["evaluation"]["best_attempt"] is None
    assert len(prediction["attempts"]) == 2


async def test_a_result_too_large_to_score_is_kept_unscored(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    model = await make_model(provider_config=scripted("huge"))
    body = _body(model, max_attempts=3, evaluation_provider="local")
    r = await client.post(URL, json=body, headers=user.headers)
    assert r.status_code == 202, r.text
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "COMPLETED", done
    (prediction,) = done["predictions"]
    assert (prediction["result_width"], prediction["result_height"]) == (9000, 8000)
    evaluation = prediction["evaluation"]
    # Another seed would give an image as large: one attempt, kept, and why it has no score.
    (attempt,) = evaluation["attempts"]
    assert attempt["status"] == "unscored" and attempt["score"] is None
    assert attempt["result_sha256"] == prediction["result_sha256"]
    assert {c["name"] for c in attempt["criteria"]} == {"garment_colour", "sharpness", "exposure"}
    assert all("too large: 9000x8000" in c["skipped"] for c in attempt["criteria"])
    assert evaluation["best_attempt"] == 1
    assert evaluation["score"] is None and evaluation["passed"] is False


async def test_steps_that_ignore_seed_and_prompt_are_not_run_again_for_nothing(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    # The image adjuster gives the same bytes whatever the seed and prompt.
    body = {
        "generation_type": "AGENTIC",
        "generation_strategy": "IMAGE_ADJUSTING",
        "garment_placement_base_image_url": data_url(RED, (48, 64)),
        "batch_size": 1,
        "seed": 3,
        "config": {"max_attempts": 10, "min_confidence_score": 1.0, "evaluation_provider": "local"},
    }
    r = await client.post(URL, json=body, headers=user.headers)
    assert r.status_code == 202, r.text
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "COMPLETED", done
    (prediction,) = done["predictions"]
    evaluation = prediction["evaluation"]
    first, second = evaluation["attempts"]
    assert first["status"] == "scored" and first["passed"] is False
    assert second["status"] == "duplicate" and second["seed"] != first["seed"]
    assert second["result_sha256"] == first["result_sha256"] == prediction["result_sha256"]
    assert second["score"] == first["score"] and second["passed"] is False
    assert evaluation["best_attempt"] == 1 and evaluation["score"] == first["score"]
    assert len(prediction["attempts"]) == 2  # two runs of the tool, not ten
