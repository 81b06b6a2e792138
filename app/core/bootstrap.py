"""What the server does once at start: migrate, create the first superuser, seed defaults."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from alembic.config import Config
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from alembic import command
from app.core import security
from app.core.config import Settings
from app.core.db import Database
from app.models.generation_model import GenerativeModel
from app.models.user import User
from app.providers.defaults import default_generation_models
from app.repositories.users import UserRepository
from app.services import system_prompts
from app.services.catalogue_defaults import seed_shot_types

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = database_url
    return config


def upgrade_database(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


async def migrate(settings: Settings) -> None:
    # Alembic's async env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(upgrade_database, settings.database_url)


async def ensure_first_superuser(session: AsyncSession, settings: Settings) -> None:
    users = UserRepository(session)
    if await users.get_by_email(settings.FIRST_SUPERUSER) is not None:
        return
    password = settings.FIRST_SUPERUSER_PASSWORD
    generated = password is None
    if password is None:
        password = security.generate_password()
    await users.add(
        User(
            email=settings.FIRST_SUPERUSER.lower(),
            hashed_password=await security.hash_password_async(password),
            is_superuser=True,
            full_name="Administrator",
        )
    )
    await session.commit()
    if generated:
        # Printed once, to the console only: never to the log stream.
        print(
            f"\n  First superuser created: {settings.FIRST_SUPERUSER}\n"
            f"  Generated password (shown once): {password}\n"
            "  Set FIRST_SUPERUSER_PASSWORD to choose it yourself.\n",
            file=sys.stderr,
            flush=True,
        )
    else:
        logger.info("first superuser %s created", settings.FIRST_SUPERUSER)


async def seed_generation_models(session: AsyncSession) -> None:
    if (await session.exec(select(GenerativeModel.id).limit(1))).first() is not None:
        return
    for model in default_generation_models():
        session.add(model)
    await session.commit()


async def seed_catalogue(session: AsyncSession, settings: Settings) -> None:
    """Standard shot types and default system prompts; only what is missing is added."""
    admin = await UserRepository(session).get_by_email(settings.FIRST_SUPERUSER)
    try:
        if admin is not None:
            await seed_shot_types(session, admin.id)
        await system_prompts.seed_defaults(session)
        await session.commit()
    except IntegrityError:
        # Another process starting at the same time seeded them first.
        await session.rollback()


async def bootstrap(settings: Settings, db: Database) -> None:
    if settings.AUTO_MIGRATE:
        await migrate(settings)
    async with db.sessionmaker() as session:
        await ensure_first_superuser(session, settings)
        if settings.SEED_DEFAULTS:
            await seed_generation_models(session)
            await seed_catalogue(session, settings)
