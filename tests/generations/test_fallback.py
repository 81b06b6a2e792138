"""Fallback to the model's fallback provider after a failing, a hanging or an empty primary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.fakes import providers
from tests.generations.conftest import ModelFactory, scripted
from tests.generations.helpers import wait_for

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"
BODY = {"batch_size": 1, "width": 64, "height": 64, "seed": 5}


async def _run(client: httpx.AsyncClient, user: TestUser, model: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(
        URL, json={**BODY, "generative_models_id": model["id"]}, headers=user.headers
    )
    assert r.status_code == 202, r.text
    assert r.json()["plan"][0]["fallback_provider"] == model["fallback_provider"]
    return await wait_for(client, r.json()["id"], user.headers)


async def test_fallback_after_failing_primary(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    model = await make_model(
        provider_config=scripted("fail"), fallback_provider="local", fallback_provider_config={}
    )
    done = await _run(client, user, model)
    assert done["status"] == "COMPLETED", done
    prediction = done["predictions"][0]
    assert prediction["provider"] == "local"
    assert prediction["fallback_used"] is True
    assert "scripted failure" in prediction["fallback_reason"]
    first, second = prediction["attempts"]
    assert (first["provider"], first["role"], first["outcome"]) == (
        "fal_standard",
        "primary",
        "error",
    )
    assert first["error_category"] == "provider_error"
    assert (second["provider"], second["role"], second["outcome"]) == (
        "local",
        "fallback",
        "success",
    )


async def test_fallback_after_hanging_primary(
    client: httpx.AsyncClient,
    user: TestUser,
    make_model: ModelFactory,
    scripted_provider: Any,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.state.settings, "PROVIDER_TIMEOUT_SECONDS", 0.3)
    model = await make_model(
        provider_config=scripted("hang"), fallback_provider="local", fallback_provider_config={}
    )
    done = await _run(client, user, model)
    prediction = done["predictions"][0]
    assert prediction["status"] == "COMPLETED"
    assert prediction["fallback_used"] is True
    assert prediction["attempts"][0]["error_category"] == "timeout"
    assert prediction["attempts"][0]["duration_ms"] >= 300
    # The remote job of the timed-out primary was cancelled.
    assert providers.CANCELLED == ["job-5"]


async def test_fallback_after_empty_answer(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    model = await make_model(
        provider_config=scripted("empty"), fallback_provider="local", fallback_provider_config={}
    )
    done = await _run(client, user, model)
    prediction = done["predictions"][0]
    assert prediction["status"] == "COMPLETED"
    assert prediction["attempts"][0]["error_category"] == "no_image"


async def test_failure_without_fallback_fails_the_generation(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    model = await make_model(provider_config=scripted("fail"))
    done = await _run(client, user, model)
    assert done["status"] == "FAILED"
    assert done["error_category"] == "provider_error"
    assert "scripted failure" in done["error_message"]
    prediction = done["predictions"][0]
    assert prediction["status"] == "ERROR"
    assert prediction["result_image_url"] is None
    assert len(prediction["attempts"]) == 1


async def test_fallback_that_cannot_serve_the_task_is_not_used(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    # The fallback is declared without TEXT_TO_IMAGE: it must not be tried.
    model = await make_model(
        provider_config=scripted("fail"),
        fallback_provider="local",
        fallback_provider_config={},
        fallback_provider_capabilities=["UPSCALE"],
    )
    r = await client.post(
        URL, json={**BODY, "generative_models_id": model["id"]}, headers=user.headers
    )
    assert r.json()["plan"][0]["fallback_provider"] is None
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "FAILED"
