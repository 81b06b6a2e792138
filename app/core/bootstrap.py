"""What the server does once at start: migrate, create the first superuser, seed defaults."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError, IntegrityError
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
# Not alembic/env.py's migration lock, which the migration takes inside this one.
BOOTSTRAP_LOCK_ID = 7_344_012_346
SCHEMA_WAIT_SECONDS = 300.0


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
    """Processes starting together take turns: the superuser and the defaults are created
    when missing, which is a check and then an insert."""
    if not settings.AUTO_MIGRATE:
        # Outside the lock, which the process that migrates needs.
        await wait_for_schema(settings, db)
    async with _bootstrap_lock(settings, db):
        if settings.AUTO_MIGRATE:
            await migrate(settings)
        async with db.sessionmaker() as session:
            await ensure_first_superuser(session, settings)
            if settings.SEED_DEFAULTS:
                await seed_generation_models(session)
                await seed_catalogue(session, settings)


@asynccontextmanager
async def _bootstrap_lock(settings: Settings, db: Database) -> AsyncIterator[None]:
    """PostgreSQL: a session advisory lock (not the migrations' own, taken inside). SQLite:
    an exclusive lock on a file beside the database (processes of one host share it)."""
    if not settings.is_sqlite:
        async with db.engine.connect() as connection:
            await connection.execute(text(f"SELECT pg_advisory_lock({BOOTSTRAP_LOCK_ID})"))
            try:
                yield
            finally:
                await connection.execute(text(f"SELECT pg_advisory_unlock({BOOTSTRAP_LOCK_ID})"))
        return
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".bootstrap-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


async def wait_for_schema(settings: Settings, db: Database) -> None:
    """Without AUTO_MIGRATE, another process (a release step, the replica that migrates)
    brings the schema to this code's head: wait for it rather than fail on missing tables.
    A revision this code does not know is a newer release's: no reason to wait."""
    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    head = script.get_current_head()
    deadline = time.monotonic() + SCHEMA_WAIT_SECONDS
    while True:
        try:
            async with db.engine.connect() as connection:
                current = (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar()
        except DBAPIError:
            current = None  # no alembic_version table yet
        if current == head or (current is not None and _unknown_revision(script, current)):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the database schema is at {current or 'nothing'}, this code needs {head}: "
                "run `alembic upgrade head`, or start one process with AUTO_MIGRATE=true"
            )
        logger.info("waiting for the schema to reach %s (at %s)", head, current or "nothing")
        await asyncio.sleep(1.0)


def _unknown_revision(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is None
    except (CommandError, RevisionError):
        return True
