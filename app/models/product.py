"""Products: the garments and accessories being photographed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, updated_at_field, uuid_pk
from app.models.catalogue_base import (
    Gender,
    ProductFamily,
    organization_id_field,
    owner_id_field,
    slug_field,
    slug_indexes,
)


class ProductBase(SQLModel):
    name: str = Field(min_length=1, max_length=255)
    sku: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=4096)
    gender: Gender | None = Field(default=None, sa_type=String(16))
    product_family: ProductFamily | None = Field(default=None, sa_type=String(16))
    product_type: str | None = Field(
        default=None, max_length=255, description="dress, jeans, sneakers, bag, …"
    )
    cover_image_url: str | None = Field(default=None, max_length=2048)
    back_image_url: str | None = Field(
        default=None, max_length=2048, description="Used for back-angle shots"
    )
    lora_path: str | None = Field(default=None, max_length=2048)
    lora_trigger: str | None = Field(default=None, max_length=255)
    lora_weight: float = Field(default=0.9, ge=-2, le=2)


class ProductCreate(ProductBase):
    slug: str | None = slug_field()


class ProductUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    sku: str | None = Field(default=None, max_length=255)
    slug: str | None = slug_field()
    description: str | None = Field(default=None, max_length=4096)
    gender: Gender | None = None
    product_family: ProductFamily | None = None
    product_type: str | None = Field(default=None, max_length=255)
    cover_image_url: str | None = Field(default=None, max_length=2048)
    back_image_url: str | None = Field(default=None, max_length=2048)
    lora_path: str | None = Field(default=None, max_length=2048)
    lora_trigger: str | None = Field(default=None, max_length=255)
    lora_weight: float | None = Field(default=None, ge=-2, le=2)


class Product(ProductBase, table=True):
    __tablename__ = "product"
    __table_args__ = slug_indexes("product")

    id: uuid.UUID = uuid_pk()
    slug: str = Field(max_length=255)
    owner_id: uuid.UUID = owner_id_field()
    organization_id: uuid.UUID | None = organization_id_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ProductPublic(ProductBase):
    id: uuid.UUID
    slug: str
    owner_id: uuid.UUID
    organization_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ProductsPublic(SQLModel):
    data: list[ProductPublic]
    count: int
