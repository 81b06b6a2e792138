"""The builder chain: one small builder per concern, run in a fixed order.

Order (documented, and asserted by the tests):
  base system prompt -> subject (+ LoRA trigger) -> products (+ triggers) -> style
  -> shot type -> pose -> shooting look -> lighting/framing/perspective/background/tone
  overrides -> extra prompt -> negative prompt.

Each builder reads the `PromptContext` and returns a `Contribution` (prompt fragments,
negative fragments, LoRAs); `run_chain` joins them and records which builder contributed
which fragment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from app.models.catalogue_base import AgeClass, Gender, ProductFamily
from app.models.product import Product
from app.prompts.context import PromptContext
from app.providers.base import LoraSpec

_SPACES = re.compile(r"\s+")


def clean(text: str | None) -> str:
    """Collapse whitespace and trim separators, so joined fragments read cleanly."""
    if not text:
        # Most context fields are unset: skip the regex for them.
        return ""
    return _SPACES.sub(" ", text).strip(" ,;")


def phrase(value: str, noun: str) -> str:
    """`value` followed by `noun` unless the value already says it ("studio" -> "studio background")."""
    value = clean(value)
    return value if noun.split()[0] in value.lower() else f"{value} {noun}"


@dataclass(frozen=True)
class TraceEntry:
    builder: str
    fragment: str
    target: Literal["prompt", "negative"] = "prompt"

    def as_dict(self) -> dict[str, str]:
        return {"builder": self.builder, "fragment": self.fragment, "target": self.target}


@dataclass
class Contribution:
    fragments: list[str] = field(default_factory=list)
    negative: list[str] = field(default_factory=list)
    loras: list[LoraSpec] = field(default_factory=list)

    def add(self, text: str | None) -> None:
        cleaned = clean(text)
        if cleaned:
            self.fragments.append(cleaned)

    def add_negative(self, text: str | None) -> None:
        cleaned = clean(text)
        if cleaned:
            self.negative.append(cleaned)


class PromptBuilder(Protocol):
    name: ClassVar[str]

    def build(self, ctx: PromptContext) -> Contribution: ...


@dataclass
class ChainResult:
    prompt: str
    negative_prompt: str
    loras: list[LoraSpec]
    trace: list[TraceEntry]


def _lora(
    ctx: PromptContext,
    kind: str,
    path: str | None,
    entity_weight: float,
    entity_trigger: str | None,
    entity_enabled: bool,
) -> tuple[LoraSpec | None, str | None]:
    """The LoRA that applies (if any) and the trigger word to put in the prompt."""
    options = ctx.lora_options(kind)
    enabled = entity_enabled if options.enabled is None else options.enabled
    trigger = clean(options.trigger or entity_trigger) or None
    if not enabled:
        return None, None
    weight = entity_weight if options.weight is None else options.weight
    spec = LoraSpec(kind=kind, path=path, scale=weight, trigger=trigger) if path else None
    return spec, trigger


_GENDER_NOUNS = {
    Gender.FEMALE: "woman",
    Gender.MALE: "man",
    Gender.OTHER: "person",
    Gender.UNISEX: "person",
}
_KID_NOUNS = {Gender.FEMALE: "girl", Gender.MALE: "boy"}
_AGE_WORDS = {
    AgeClass.TEEN: "teenage",
    AgeClass.YOUNG: "young",
    AgeClass.MIDDLE_AGE: "middle-aged",
    AgeClass.ELDER: "elderly",
}


def _gender(value: str | None) -> Gender | None:
    if not value:
        return None
    normalized = value.strip().upper()
    aliases = {"WOMAN": "FEMALE", "WOMEN": "FEMALE", "MAN": "MALE", "MEN": "MALE"}
    try:
        return Gender(aliases.get(normalized, normalized))
    except ValueError:
        return None


class BaseSystemPromptBuilder:
    name: ClassVar[str] = "base_system_prompt"

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        out.add(ctx.base_prompt)
        out.add_negative(ctx.base_negative)
        return out


class SubjectBuilder:
    name: ClassVar[str] = "subject"

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        subject = ctx.subject
        if subject is None and not ctx.subject_description and not ctx.subject_gender:
            return out
        trigger = None
        if subject is not None:
            spec, trigger = _lora(
                ctx,
                "subject",
                subject.lora_path,
                subject.lora_weight,
                subject.lora_trigger,
                subject.lora_enabled,
            )
            if spec:
                out.loras.append(spec)
        elif ctx.lora_options("subject").enabled is not False:
            trigger = clean(ctx.lora_options("subject").trigger) or None
        gender = _gender(ctx.subject_gender) or (subject.gender if subject else None)
        age = subject.age_class if subject else None
        if age == AgeClass.KID:
            noun = _KID_NOUNS.get(gender, "child") if gender else "child"
        else:
            noun = _GENDER_NOUNS.get(gender, "model") if gender else "model"
            if age in _AGE_WORDS:
                noun = f"{_AGE_WORDS[age]} {noun}"
        head = " ".join(part for part in (trigger, noun) if part)
        description = ctx.subject_description or (
            subject.description if subject and subject.description else None
        )
        if description is None and subject is not None and not trigger:
            description = subject.name
        out.add(f"{head}, {clean(description)}" if description else head)
        return out


class ProductsBuilder:
    name: ClassVar[str] = "products"
    _VERBS: ClassVar[dict[str, str]] = {
        ProductFamily.ACCESSORIES: "with",
        ProductFamily.BEAUTY: "featuring",
    }
    _GENDER_WORDS: ClassVar[dict[str, str]] = {
        Gender.FEMALE: "women's",
        Gender.MALE: "men's",
        Gender.UNISEX: "unisex",
    }

    def _one(
        self,
        ctx: PromptContext,
        kind: str,
        product: Product | None,
        description: str | None,
        out: Contribution,
    ) -> None:
        if product is None and not description:
            return
        trigger = None
        if product is not None:
            spec, trigger = _lora(
                ctx,
                kind,
                product.lora_path,
                product.lora_weight,
                product.lora_trigger,
                bool(product.lora_path),
            )
            if spec:
                out.loras.append(spec)
        text = description or (product.description if product else None)
        if not text and product is not None:
            text = " ".join(p for p in (product.name, product.product_type) if p)
        gender = _gender(ctx.product_gender if kind == "product" else None) or (
            product.gender if product else None
        )
        gender_word = self._GENDER_WORDS.get(gender) if gender else None
        if gender_word and gender_word not in (text or "").lower():
            text = f"{gender_word} {text}"
        family = product.product_family if product else None
        verb = self._VERBS.get(family, "wearing") if family else "wearing"
        out.add(" ".join(p for p in (verb, trigger, clean(text)) if p))

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        self._one(ctx, "product", ctx.product, ctx.product_description, out)
        self._one(ctx, "product2", ctx.product2, ctx.product2_description, out)
        return out


class StyleBuilder:
    name: ClassVar[str] = "style"

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        style = ctx.style
        if style is None and not ctx.style_description:
            return out
        trigger = None
        if style is not None:
            spec, trigger = _lora(
                ctx, "style", style.lora_path, style.lora_weight, style.lora_trigger, True
            )
            if spec:
                out.loras.append(spec)
        text = ctx.style_description or (style.description if style else None)
        if not text and style is not None:
            text = style.name
        text = phrase(text or "", "style")
        out.add(" ".join(p for p in (trigger, text) if p))
        return out


class ShotTypeBuilder:
    """Framing and view angle of the shot type, unless the request overrides them."""

    name: ClassVar[str] = "shot_type"

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        shot = ctx.shot_type
        if shot is None:
            return out
        if shot.prompt and not ctx.framing and not ctx.perspective:
            out.add(shot.prompt)
        else:
            if not ctx.framing:
                out.add(phrase(str(shot.framing).lower(), "shot"))
            if not ctx.perspective:
                out.add(phrase(str(shot.view_angle).lower(), "view"))
        out.add_negative(shot.negative_prompt)
        return out


class PoseBuilder:
    name: ClassVar[str] = "pose"

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        if ctx.pose:
            out.add(phrase(ctx.pose, "pose"))
        elif ctx.pose_preset is not None:
            out.add(ctx.pose_preset.prompt or phrase(ctx.pose_preset.name.lower(), "pose"))
        return out


class ShootingLookBuilder:
    """The look's outfit and its scene defaults (those the request does not override)."""

    name: ClassVar[str] = "shooting_look"

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        look = ctx.shooting_look
        if look is None:
            return out
        if ctx.extra_products:
            items = [clean(p.description or p.name) for p in ctx.extra_products]
            out.add("styled with " + ", ".join(items))
        out.add(look.outfit_instruction)
        if look.lighting and not ctx.lighting:
            out.add(phrase(look.lighting, "lighting"))
        if look.background and not ctx.background:
            out.add(phrase(look.background, "background"))
        if look.tone and not ctx.tone:
            out.add(phrase(look.tone, "tone"))
        return out


class SceneOverridesBuilder:
    name: ClassVar[str] = "scene_overrides"

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        if ctx.lighting:
            out.add(phrase(ctx.lighting, "lighting"))
        if ctx.framing:
            out.add(phrase(ctx.framing, "shot"))
        if ctx.perspective:
            out.add(phrase(ctx.perspective, "view"))
        if ctx.background:
            out.add(phrase(ctx.background, "background"))
        if ctx.tone:
            out.add(phrase(ctx.tone, "tone"))
        return out


class ExtraPromptBuilder:
    name: ClassVar[str] = "extra_prompt"

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        out.add(ctx.extra_prompt)
        return out


class NegativePromptBuilder:
    name: ClassVar[str] = "negative_prompt"

    def build(self, ctx: PromptContext) -> Contribution:
        out = Contribution()
        out.add_negative(ctx.negative_prompt)
        return out


CHAIN: tuple[PromptBuilder, ...] = (
    BaseSystemPromptBuilder(),
    SubjectBuilder(),
    ProductsBuilder(),
    StyleBuilder(),
    ShotTypeBuilder(),
    PoseBuilder(),
    ShootingLookBuilder(),
    SceneOverridesBuilder(),
    ExtraPromptBuilder(),
    NegativePromptBuilder(),
)


def _join(parts: Sequence[str]) -> str:
    seen: set[str] = set()
    unique = []
    for part in parts:
        key = part.lower()
        if key not in seen:
            seen.add(key)
            unique.append(part)
    return ", ".join(unique)


def run_chain(ctx: PromptContext, chain: Sequence[PromptBuilder] = CHAIN) -> ChainResult:
    fragments: list[str] = []
    negative: list[str] = []
    loras: list[LoraSpec] = []
    trace: list[TraceEntry] = []
    for builder in chain:
        out = builder.build(ctx)
        fragments.extend(out.fragments)
        negative.extend(out.negative)
        loras.extend(out.loras)
        trace.extend(TraceEntry(builder.name, f) for f in out.fragments)
        trace.extend(TraceEntry(builder.name, f, "negative") for f in out.negative)
    return ChainResult(
        prompt=_join(fragments), negative_prompt=_join(negative), loras=loras, trace=trace
    )
