from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.system_prompt import SystemPrompt


class SystemPromptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, prompt_type: str) -> SystemPrompt | None:
        query = select(SystemPrompt).where(col(SystemPrompt.prompt_type) == prompt_type)
        return (await self.session.exec(query)).first()

    async def texts(self, prompt_types: Iterable[str]) -> dict[str, str]:
        """The stored texts of `prompt_types` (missing ones absent), in one query."""
        query = select(col(SystemPrompt.prompt_type), col(SystemPrompt.prompt)).where(
            col(SystemPrompt.prompt_type).in_(list(prompt_types))
        )
        return {row[0]: row[1] for row in (await self.session.exec(query)).all()}

    async def list_page(self, *, skip: int, limit: int) -> tuple[list[SystemPrompt], int]:
        rows = await self.session.exec(
            select(SystemPrompt).order_by(col(SystemPrompt.prompt_type)).offset(skip).limit(limit)
        )
        count = (await self.session.exec(select(func.count()).select_from(SystemPrompt))).one()
        return list(rows.all()), int(count)

    async def existing_types(self) -> set[str]:
        rows = await self.session.exec(select(col(SystemPrompt.prompt_type)))
        return set(rows.all())

    async def save(self, prompt: SystemPrompt) -> SystemPrompt:
        self.session.add(prompt)
        await self.session.flush()
        return prompt
