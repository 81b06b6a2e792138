"""Prompt use cases: `/compose`, `/create-for-generation`, and `build_generation_prompt`, the
entry point the generation pipeline uses.

`build_generation_prompt` resolves the request's entities (one query per kind), runs the
builder chain, and returns a `BuiltPrompt` carrying the final prompt, the chain's (or the
user's) prompt before any LLM enhancement, the negative prompt, the LoRAs, the trace, which
path produced the prompt, and the `PromptContext` the pipeline reads images and scene
settings from.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.db import Database
from app.core.errors import InvalidInput
from app.models.generation import GenerationCreate
from app.models.prompt import PromptContextRequest
from app.models.shot_type import ShotType
from app.prompts.builders import TraceEntry, run_chain
from app.prompts.context import LORA_KINDS, LoraOptions, PromptContext
from app.prompts.enhancement import enhance, template_from_config
from app.prompts.llm import text_model
from app.prompts.resolver import (
    EntityRefs,
    Ref,
    ResolvedEntities,
    resolve_entities,
    resolve_entities_in,
)
from app.providers.base import LoraSpec
from app.services import system_prompts
from app.services.auth import Principal
from app.services.tenancy import OwnerScope, resolve_scope_in

PromptSource = Literal["chain", "llm", "user"]
DEFAULT_KEY = "default"


@dataclass
class BuiltPrompt:
    prompt: str
    original_prompt: str
    negative_prompt: str
    loras: list[LoraSpec]
    trace: list[TraceEntry]
    source: PromptSource
    context: PromptContext
    # Set when an LLM enhancement was attempted: the template used, and why it failed.
    template: str | None = None
    enhancement_error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def shot_type(self) -> ShotType | None:
        return self.context.shot_type

    def as_dict(self) -> dict[str, Any]:
        shot = self.context.shot_type
        return {
            "prompt": self.prompt,
            "original_prompt": self.original_prompt,
            "negative_prompt": self.negative_prompt,
            "source": self.source,
            "template": self.template,
            "enhancement_error": self.enhancement_error,
            "shot_type": None
            if shot is None
            else {
                "id": str(shot.id),
                "slug": shot.slug,
                "name": shot.name,
                "framing": shot.framing,
                "view_angle": shot.view_angle,
            },
            "loras": [lora_dict(spec) for spec in self.loras],
            "trace": [entry.as_dict() for entry in self.trace],
        }


def lora_dict(spec: LoraSpec) -> dict[str, Any]:
    return {"kind": spec.kind, "path": spec.path, "weight": spec.scale, "trigger": spec.trigger}


async def resolve_request_scope(
    db: Database,
    principal: Principal,
    query_organization_id: uuid.UUID | None,
    body_organization_id: uuid.UUID | None,
) -> OwnerScope:
    """The scope of a request that may name its organization in the query or the body."""
    if (
        query_organization_id is not None
        and body_organization_id is not None
        and query_organization_id != body_organization_id
    ):
        raise InvalidInput.field(
            ["body", "organization_id"],
            "does not match the organization_id query parameter",
            str(body_organization_id),
        )
    return await resolve_scope_in(db, principal, query_organization_id or body_organization_id)


# --- GenerationCreate -> references and context ------------------------------------------


def requested_shot_types(data: GenerationCreate, shot_type: str | None = None) -> list[Ref]:
    """Shot types asked for: an explicit override, else `shot_type_id`, `shot_type` and the
    comma-separated `shot_type_string`, in that order, without duplicates."""
    if shot_type is not None:
        return [Ref.shot_type("shot_type", shot_type)]
    refs: list[Ref] = []
    if data.shot_type_id is not None:
        refs.append(Ref("shot_type_id", id=data.shot_type_id))
    if data.shot_type and data.shot_type.strip():
        refs.append(Ref.shot_type("shot_type", data.shot_type))
    for item in (data.shot_type_string or "").split(","):
        if item.strip():
            refs.append(Ref.shot_type("shot_type_string", item))
    unique: dict[tuple[Any, Any], Ref] = {}
    for ref in refs:
        unique.setdefault((ref.id, ref.slug), ref)
    return list(unique.values())


def generation_refs(data: GenerationCreate, shot_type: str | None = None) -> EntityRefs:
    return EntityRefs(
        subject=Ref.of("subject_id", data.subject_id)
        or Ref.of("subject_slug", None, data.subject_slug),
        product=Ref.of("product_id", data.product_id)
        or Ref.of("product_slug", None, data.product_slug),
        product2=Ref.of("product2_id", data.product2_id)
        or Ref.of("product2_slug", None, data.product2_slug),
        style=Ref.of("style_id", data.style_id) or Ref.of("style_slug", None, data.style_slug),
        shot_types=requested_shot_types(data, shot_type),
        pose_preset_id=data.pose_preset_id,
    )


def _lora_options(data: GenerationCreate) -> dict[str, LoraOptions]:
    explicit = data.model_fields_set
    options = {}
    for kind in LORA_KINDS:
        weight_field = f"{kind}_lora_weight"
        options[kind] = LoraOptions(
            enabled=getattr(data, f"{kind}_lora_enabled"),
            # Contract defaults only apply when the entity has no weight of its own.
            weight=getattr(data, weight_field) if weight_field in explicit else None,
            trigger=getattr(data, f"{kind}_lora_trigger"),
        )
    return options


def _base_context(entities: ResolvedEntities, texts: dict[str, str]) -> PromptContext:
    return PromptContext(
        base_prompt=texts[system_prompts.BASE],
        base_negative=texts[system_prompts.NEGATIVE],
        subject=entities.subject,
        product=entities.product,
        product2=entities.product2,
        style=entities.style,
        shot_type=entities.shot_types[0] if entities.shot_types else None,
        pose_preset=entities.pose_preset,
        shooting_look=entities.shooting_look,
        extra_products=entities.extra_products,
    )


def generation_context(
    data: GenerationCreate, entities: ResolvedEntities, texts: dict[str, str]
) -> PromptContext:
    ctx = _base_context(entities, texts)
    for name in (
        "subject_description",
        "product_description",
        "product2_description",
        "style_description",
        "subject_gender",
        "product_gender",
        "lighting",
        "framing",
        "perspective",
        "background",
        "tone",
        "pose",
        "extra_prompt",
        "negative_prompt",
    ):
        value = getattr(data, name)
        setattr(ctx, name, value.strip() if isinstance(value, str) and value.strip() else None)
    ctx.loras = _lora_options(data)
    return ctx


def _from_chain(ctx: PromptContext) -> BuiltPrompt:
    result = run_chain(ctx)
    return BuiltPrompt(
        prompt=result.prompt,
        original_prompt=result.prompt,
        negative_prompt=result.negative_prompt,
        loras=result.loras,
        trace=result.trace,
        source="chain",
        context=ctx,
    )


def _from_user(ctx: PromptContext, prompt: str) -> BuiltPrompt:
    # The user's prompt is used verbatim; LoRAs and the negative prompt still come from
    # the entities, since the generation needs them either way.
    built = _from_chain(ctx)
    built.prompt = built.original_prompt = prompt
    built.trace = [TraceEntry("generated_prompt", prompt)] + [
        entry for entry in built.trace if entry.target == "negative"
    ]
    built.source = "user"
    return built


def _build_one(data: GenerationCreate, ctx: PromptContext) -> BuiltPrompt:
    if not data.auto_generate_prompt and data.generated_prompt and data.generated_prompt.strip():
        return _from_user(ctx, data.generated_prompt)
    return _from_chain(ctx)


async def _load(
    source: AsyncSession | Database,
    scope: OwnerScope,
    data: GenerationCreate,
    shot_type: str | None,
) -> tuple[ResolvedEntities, dict[str, str]]:
    """`source`: the caller's session, or the database for a read-only request without one
    (entities on the driver pool, or a read session of their own on SQLite)."""
    refs = generation_refs(data, shot_type)
    if isinstance(source, Database):
        entities = await resolve_entities_in(source, scope, refs)
    else:
        entities = await resolve_entities(source, scope, refs)
    texts = await system_prompts.texts(
        source, system_prompts.BASE, system_prompts.NEGATIVE, system_prompts.ENHANCEMENT
    )
    return entities, texts


async def _enhance_all(
    source: AsyncSession | Database,
    settings: Settings,
    data: GenerationCreate,
    texts: dict[str, str],
    prompts: list[BuiltPrompt],
) -> None:
    """Send chain-built prompts to the LLM when one is configured; keep them on failure."""
    template = template_from_config(data.config)
    candidates = [p for p in prompts if p.source == "chain" and data.auto_generate_prompt]
    if not candidates:
        return
    model = await text_model(source, settings)
    if model is None:
        return
    results = await asyncio.gather(
        *(
            enhance(
                model,
                settings,
                system=texts[system_prompts.ENHANCEMENT],
                prompt=p.original_prompt,
                template=template,
            )
            for p in candidates
        )
    )
    for built, result in zip(candidates, results, strict=True):
        built.template = result.template
        built.metadata["llm_model"] = model.name
        if result.prompt is None:
            built.enhancement_error = result.error
        else:
            built.prompt = result.prompt
            built.source = "llm"


async def build_generation_prompt(
    session: AsyncSession,
    scope: OwnerScope,
    data: GenerationCreate,
    *,
    settings: Settings,
    shot_type: str | None = None,
) -> BuiltPrompt:
    """The prompt for one generation (the first requested shot type, or `shot_type`)."""
    entities, texts = await _load(session, scope, data, shot_type)
    built = _build_one(data, generation_context(data, entities, texts))
    await _enhance_all(session, settings, data, texts, [built])
    return built


async def create_for_generation(
    db: Database, scope: OwnerScope, data: GenerationCreate, *, settings: Settings
) -> dict[str, BuiltPrompt]:
    """One prompt per requested shot type, keyed by the shot type's slug.

    Read-only, and without a request session (so none is held while an LLM answers)."""
    entities, texts = await _load(db, scope, data, None)
    ctx = generation_context(data, entities, texts)
    shot_types: list[ShotType | None] = list(entities.shot_types) or [None]
    built: dict[str, BuiltPrompt] = {}
    for shot in shot_types:
        key = shot.slug if shot is not None else DEFAULT_KEY
        built[key] = _build_one(data, ctx.with_shot_type(shot))
    await _enhance_all(db, settings, data, texts, list(built.values()))
    return built


async def compose(db: Database, scope: OwnerScope, request: PromptContextRequest) -> BuiltPrompt:
    """Read-only, and without a request session: the entities come from the driver pool (a
    read session of their own on SQLite) and the system prompts from their cache."""
    refs = EntityRefs(
        shot_types=[Ref("shot_type_id", id=request.shot_type_id)] if request.shot_type_id else [],
        pose_preset_id=request.pose_id,
        pose_field="pose_id",
        shooting_look_id=request.shooting_look_id,
    )
    entities = await resolve_entities_in(db, scope, refs)
    texts = await system_prompts.texts(db, system_prompts.BASE, system_prompts.NEGATIVE)
    return _from_chain(_base_context(entities, texts))
