from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.providers.enums import ProviderType
from app.providers.registry import registry
from tests.fakes import providers

# The fake LLM server of the prompt tests also serves the agentic tests' vision judge.
from tests.prompts.conftest import _llm_server, fake_llm, llm_settings, llm_url  # noqa: F401

if TYPE_CHECKING:
    from tests.conftest import TestUser

ModelFactory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def scripted_provider() -> Iterator[type[providers.ScriptedProvider]]:
    """Register the scripted provider as fal_standard for one test, then restore the registry."""
    saved = (
        registry._factories.get(ProviderType.FAL_STANDARD),
        registry._capabilities.get(ProviderType.FAL_STANDARD),
    )
    providers.register(registry)
    providers.CANCELLED.clear()
    yield providers.ScriptedProvider
    if saved[0] is None:
        registry.unregister(ProviderType.FAL_STANDARD)
    else:
        registry.register(ProviderType.FAL_STANDARD, saved[0], saved[1])


@pytest.fixture
async def make_model(client: httpx.AsyncClient, superuser: TestUser) -> AsyncIterator[ModelFactory]:
    created: list[str] = []

    async def factory(**fields: Any) -> dict[str, Any]:
        body = {
            "name": "test model",
            "provider": "fal_standard",
            "provider_config": {},
            "tool_types": ["BASE_GENERATION"],
            **fields,
        }
        r = await client.post("/api/v1/generation-models/", json=body, headers=superuser.headers)
        assert r.status_code == 200, r.text
        created.append(r.json()["id"])
        return dict(r.json())

    yield factory
    for model_id in created:
        await client.delete(f"/api/v1/generation-models/{model_id}", headers=superuser.headers)


def scripted(mode: str, **extra: Any) -> dict[str, Any]:
    return {"additional_static_params": {"mode": mode, **extra}}
