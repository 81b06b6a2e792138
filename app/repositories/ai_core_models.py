from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.generation_model import GenerativeModel
from app.providers.enums import ProviderType


async def list_ai_core_models(session: AsyncSession) -> list[GenerativeModel]:
    """Generation models backed by an LLM (`ai_core`), oldest first."""
    result = await session.exec(
        select(GenerativeModel)
        .where(col(GenerativeModel.provider) == ProviderType.AI_CORE)
        .order_by(col(GenerativeModel.created_at), col(GenerativeModel.id))
    )
    return list(result.all())
