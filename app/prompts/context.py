"""`PromptContext`: the resolved catalogue entities plus the request's free-text fields.

A `None` request field means "use the entity's value"; request values always win. The
generation pipeline reads images, framing, background, tone and resolution from here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from app.models.catalogue_base import ViewAngle
from app.models.pose_preset import PosePreset
from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.shot_type import ShotType
from app.models.style import Style
from app.models.subject import Subject

LORA_KINDS = ("subject", "product", "product2", "style")


@dataclass(frozen=True)
class LoraOptions:
    """Per-request LoRA settings; `None` falls back to the entity's own defaults."""

    enabled: bool | None = None
    weight: float | None = None
    trigger: str | None = None


@dataclass
class PromptContext:
    # Texts from the stored system prompts.
    base_prompt: str = ""
    base_negative: str = ""
    # Resolved entities.
    subject: Subject | None = None
    product: Product | None = None
    product2: Product | None = None
    style: Style | None = None
    shot_type: ShotType | None = None
    pose_preset: PosePreset | None = None
    shooting_look: ShootingLook | None = None
    extra_products: list[Product] = field(default_factory=list)
    # Free-text request fields.
    subject_description: str | None = None
    product_description: str | None = None
    product2_description: str | None = None
    style_description: str | None = None
    subject_gender: str | None = None
    product_gender: str | None = None
    lighting: str | None = None
    framing: str | None = None
    perspective: str | None = None
    background: str | None = None
    tone: str | None = None
    pose: str | None = None
    extra_prompt: str | None = None
    negative_prompt: str | None = None
    loras: dict[str, LoraOptions] = field(default_factory=dict)

    def with_shot_type(self, shot_type: ShotType | None) -> PromptContext:
        return replace(self, shot_type=shot_type)

    def lora_options(self, kind: str) -> LoraOptions:
        return self.loras.get(kind, LoraOptions())

    # --- effective values (request first, then the entities) -----------------------------

    @property
    def effective_lighting(self) -> str | None:
        look = self.shooting_look
        return self.lighting or (look.lighting if look else None)

    @property
    def effective_background(self) -> str | None:
        look = self.shooting_look
        return self.background or (look.background if look else None)

    @property
    def effective_tone(self) -> str | None:
        look = self.shooting_look
        return self.tone or (look.tone if look else None)

    @property
    def effective_framing(self) -> str | None:
        return self.framing or (self.shot_type.framing if self.shot_type else None)

    @property
    def effective_view_angle(self) -> str | None:
        return self.perspective or (self.shot_type.view_angle if self.shot_type else None)

    @property
    def is_back_view(self) -> bool:
        return self.shot_type is not None and self.shot_type.view_angle == ViewAngle.BACK

    @property
    def resolution(self) -> tuple[int, int] | None:
        look = self.shooting_look
        if look and look.resolution_width and look.resolution_height:
            return look.resolution_width, look.resolution_height
        return None

    @property
    def product_family(self) -> str | None:
        return self.product.product_family if self.product else None

    def product_image_url(self, which: str = "product") -> str | None:
        """The product's image for this shot: the back image for back views when there is one."""
        product = self.product2 if which == "product2" else self.product
        if product is None:
            return None
        if self.is_back_view and product.back_image_url:
            return product.back_image_url
        return product.cover_image_url

    @property
    def subject_image_url(self) -> str | None:
        return self.subject.cover_image_url if self.subject else None
