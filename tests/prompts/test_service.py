"""`build_generation_prompt`: the interface the generation pipeline uses."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.core.errors import NotFound
from app.models.generation import GenerationCreate
from app.prompts.context import PromptContext
from app.prompts.resolver import EntityRefs, resolve_entities
from app.prompts.service import BuiltPrompt, build_generation_prompt
from app.providers.base import LoraSpec
from app.services.tenancy import OwnerScope
from tests.conftest import TestUser as User

API = "/api/v1"


async def _build(
    app: Any, settings: Settings, scope: OwnerScope, data: GenerationCreate, **kw: Any
) -> BuiltPrompt:
    async with app.state.db.sessionmaker() as session:
        return await build_generation_prompt(session, scope, data, settings=settings, **kw)


async def test_build_generation_prompt_exposes_context(
    app: Any, client: httpx.AsyncClient, settings: Settings, user: User
) -> None:
    r = await client.post(
        f"{API}/products/",
        json={
            "name": "Coat",
            "product_family": "APPAREL",
            "cover_image_url": "front.png",
            "back_image_url": "back.png",
            "lora_path": "coat.safetensors",
        },
        headers=user.headers,
    )
    product = r.json()
    r = await client.post(
        f"{API}/subjects/", json={"name": "Noa", "cover_image_url": "noa.png"}, headers=user.headers
    )
    subject = r.json()
    r = await client.post(
        f"{API}/shooting-looks/",
        json={
            "name": "Winter",
            "background": "snowy street",
            "tone": "cold",
            "resolution_width": 832,
            "resolution_height": 1216,
        },
        headers=user.headers,
    )
    look = r.json()
    scope = OwnerScope(user_id=user.id, organization_id=None)
    data = GenerationCreate(
        product_id=product["id"],
        subject_id=subject["id"],
        product_lora_enabled=True,
        shot_type="full-body-front",
        pose_preset_id=None,
    )
    built = await _build(app, settings, scope, data, shot_type="Full Body Back")
    assert built.source == "chain"
    assert built.prompt == built.original_prompt
    assert built.shot_type is not None and built.shot_type.slug == "full-body-back"
    assert built.context.product_image_url() == "back.png"
    assert built.context.subject_image_url == "noa.png"
    assert built.context.product_family == "APPAREL"
    assert built.loras == [
        LoraSpec(kind="product", path="coat.safetensors", scale=0.9, trigger=None)
    ]
    assert any(entry.builder == "shot_type" for entry in built.trace)

    # The look's scene settings, via the context's effective values.
    async with app.state.db.sessionmaker() as session:
        entities = await resolve_entities(
            session, scope, EntityRefs(shooting_look_id=uuid.UUID(look["id"]))
        )
    assert entities.shooting_look is not None
    ctx = PromptContext(shooting_look=entities.shooting_look, background="override")
    assert ctx.resolution == (832, 1216)
    assert (ctx.effective_background, ctx.effective_tone) == ("override", "cold")


async def test_build_generation_prompt_not_found_names_field(
    app: Any, settings: Settings, user: User
) -> None:
    scope = OwnerScope(user_id=user.id, organization_id=None)
    with pytest.raises(NotFound) as info:
        await _build(app, settings, scope, GenerationCreate(style_id=uuid.uuid4()))
    assert "style_id" in info.value.detail
