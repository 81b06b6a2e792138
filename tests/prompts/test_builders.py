"""Each builder alone, and the chain's order, trace, negative prompt and LoRAs."""

from __future__ import annotations

import uuid

from app.models.catalogue_base import AgeClass, Framing, Gender, ProductFamily, ViewAngle
from app.models.pose_preset import PosePreset
from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.shot_type import ShotType
from app.models.style import Style
from app.models.subject import Subject
from app.prompts import builders
from app.prompts.context import LoraOptions, PromptContext

OWNER = uuid.uuid4()


def subject(**kw: object) -> Subject:
    values: dict[str, object] = {
        "name": "Ava",
        "slug": "ava",
        "owner_id": OWNER,
        "gender": Gender.FEMALE,
        "age_class": AgeClass.YOUNG,
        "description": "auburn hair, freckles",
        "lora_path": "https://x/ava.safetensors",
        "lora_trigger": "ohwx",
        "lora_weight": 0.95,
    }
    values.update(kw)
    return Subject(**values)


def product(**kw: object) -> Product:
    values: dict[str, object] = {
        "name": "Linen Shirt",
        "slug": "linen-shirt",
        "owner_id": OWNER,
        "description": "white linen shirt",
        "gender": Gender.FEMALE,
        "product_family": ProductFamily.APPAREL,
    }
    values.update(kw)
    return Product(**values)


def shot(angle: ViewAngle = ViewAngle.FRONT, **kw: object) -> ShotType:
    values: dict[str, object] = {
        "name": "Full Body",
        "slug": "full-body",
        "owner_id": OWNER,
        "framing": Framing.FULL_BODY,
        "view_angle": angle,
        "prompt": "full body shot, front view",
    }
    values.update(kw)
    return ShotType(**values)


def test_subject_builder_uses_trigger_description_and_lora() -> None:
    out = builders.SubjectBuilder().build(PromptContext(subject=subject()))
    assert out.fragments == ["ohwx young woman, auburn hair, freckles"]
    assert [(lora.kind, lora.path, lora.scale, lora.trigger) for lora in out.loras] == [
        ("subject", "https://x/ava.safetensors", 0.95, "ohwx")
    ]


def test_subject_request_fields_override_entity() -> None:
    ctx = PromptContext(
        subject=subject(),
        subject_description="short black hair",
        subject_gender="male",
        loras={"subject": LoraOptions(enabled=True, weight=0.5, trigger="zxq")},
    )
    out = builders.SubjectBuilder().build(ctx)
    assert out.fragments == ["zxq young man, short black hair"]
    assert out.loras[0].scale == 0.5 and out.loras[0].trigger == "zxq"


def test_disabled_lora_drops_trigger_and_spec() -> None:
    ctx = PromptContext(subject=subject(), loras={"subject": LoraOptions(enabled=False)})
    out = builders.SubjectBuilder().build(ctx)
    assert out.loras == []
    assert "ohwx" not in out.fragments[0]
    assert builders.SubjectBuilder().build(PromptContext()).fragments == []


def test_products_builder_two_products_and_family_verbs() -> None:
    bag = product(
        name="Tote",
        slug="tote",
        description=None,
        product_type="bag",
        gender=None,
        product_family=ProductFamily.ACCESSORIES,
        lora_path="bag.safetensors",
        lora_trigger="tbg",
    )
    ctx = PromptContext(product=product(), product2=bag)
    out = builders.ProductsBuilder().build(ctx)
    assert out.fragments == ["wearing women's white linen shirt", "with tbg Tote bag"]
    assert [(lora.kind, lora.scale) for lora in out.loras] == [("product2", 0.9)]


def test_style_builder() -> None:
    style = Style(name="Editorial", slug="ed", owner_id=OWNER, lora_path="s", lora_trigger="edt")
    out = builders.StyleBuilder().build(PromptContext(style=style))
    assert out.fragments == ["edt Editorial style"]
    assert out.loras[0].kind == "style" and out.loras[0].scale == 0.7


def test_shot_type_builder_and_overrides() -> None:
    back = shot(ViewAngle.BACK, prompt=None, negative_prompt="face")
    out = builders.ShotTypeBuilder().build(PromptContext(shot_type=back))
    assert out.fragments == ["full body shot", "back view"]
    assert out.negative == ["face"]
    out = builders.ShotTypeBuilder().build(PromptContext(shot_type=shot(), framing="close-up"))
    assert out.fragments == ["front view"]


def test_pose_builder_prefers_request_text() -> None:
    preset = PosePreset(name="Hands on hips", shot_type_id=uuid.uuid4(), owner_id=OWNER)
    assert builders.PoseBuilder().build(PromptContext(pose_preset=preset)).fragments == [
        "hands on hips pose"
    ]
    ctx = PromptContext(pose_preset=preset, pose="walking towards camera")
    assert builders.PoseBuilder().build(ctx).fragments == ["walking towards camera pose"]


def test_shooting_look_defaults_yield_to_request() -> None:
    look = ShootingLook(
        name="Look",
        owner_id=OWNER,
        lighting="soft daylight",
        background="white studio",
        tone="warm",
        outfit_instruction="shirt tucked in",
    )
    ctx = PromptContext(
        shooting_look=look,
        extra_products=[product(description="gold belt")],
        background="beach at sunset",
    )
    out = builders.ShootingLookBuilder().build(ctx)
    assert out.fragments == [
        "styled with gold belt",
        "shirt tucked in",
        "soft daylight lighting",
        "warm tone",
    ]
    overrides = builders.SceneOverridesBuilder().build(ctx)
    assert overrides.fragments == ["beach at sunset background"]
    assert ctx.effective_background == "beach at sunset"
    assert ctx.effective_tone == "warm"


def test_chain_order_trace_and_negative() -> None:
    ctx = PromptContext(
        base_prompt="studio photo",
        base_negative="blurry",
        subject=subject(),
        product=product(),
        shot_type=shot(),
        extra_prompt="crisp details",
        negative_prompt="logo",
        lighting="rim light",
    )
    result = builders.run_chain(ctx)
    assert result.prompt == (
        "studio photo, ohwx young woman, auburn hair, freckles, wearing women's white linen "
        "shirt, full body shot, front view, rim light lighting, crisp details"
    )
    assert result.negative_prompt == "blurry, logo"
    order = [e.builder for e in result.trace if e.target == "prompt"]
    assert order == [
        "base_system_prompt",
        "subject",
        "products",
        "shot_type",
        "scene_overrides",
        "extra_prompt",
    ]
    assert [b.name for b in builders.CHAIN] == [
        "base_system_prompt",
        "subject",
        "products",
        "style",
        "shot_type",
        "pose",
        "shooting_look",
        "scene_overrides",
        "extra_prompt",
        "negative_prompt",
    ]
    assert [lora.kind for lora in result.loras] == ["subject"]


def test_back_view_uses_back_image() -> None:
    item = product(cover_image_url="front.png", back_image_url="back.png")
    assert PromptContext(product=item, shot_type=shot()).product_image_url() == "front.png"
    ctx = PromptContext(product=item, shot_type=shot(ViewAngle.BACK))
    assert ctx.product_image_url() == "back.png"
    assert PromptContext().product_image_url() is None


def test_duplicate_fragments_are_dropped() -> None:
    ctx = PromptContext(base_prompt="white background", background="white background")
    assert builders.run_chain(ctx).prompt == "white background"
