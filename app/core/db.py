"""Engine and session factory. One `Database` per app instance, kept on `app.state`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import ClauseElement, event
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the one writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if url.startswith("sqlite"):
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=settings.DB_ECHO, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A pool smaller than the request concurrency makes SQLAlchemy open and close
    # connections constantly; overflow gives headroom above the steady-state size.
    return create_async_engine(
        url,
        echo=settings.DB_ECHO,
        # Statement errors are logged with their parameters otherwise: password hashes,
        # webhook secrets, API key digests.
        hide_parameters=True,
        pool_size=settings.DB_POOL_SIZE,
        max_overflow=settings.DB_MAX_OVERFLOW,
        pool_pre_ping=False,
        pool_recycle=1800,
        # JSONB columns are decoded on every read; orjson is several times faster than the
        # stdlib and PostgreSQL only ever returns strict JSON (no NaN) that both accept alike.
        json_deserializer=orjson.loads,
    )


@dataclass(frozen=True)
class DriverStatement:
    """A SQLAlchemy Core statement compiled once for asyncpg: `$n` SQL and argument order.

    Arguments go to asyncpg as they are, without SQLAlchemy's bind processing: only for
    statements over columns asyncpg encodes natively (strings, numbers, UUIDs, aware
    datetimes, and JSON through the driver pool's codec).
    """

    sql: str
    names: tuple[str, ...]
    # Values the statement carries itself (`status == 'PENDING'`, `progress = 0.0`); every
    # other name, including columns SQLAlchemy would fill from `onupdate`, must be given.
    literals: dict[str, Any]

    def args(self, params: dict[str, Any]) -> list[Any]:
        try:
            return [params[n] if n in params else self.literals[n] for n in self.names]
        except KeyError as exc:
            raise KeyError(f"statement parameter {exc.args[0]!r} not given") from None


_ASYNCPG_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


@lru_cache(maxsize=128)
def driver_statement(statement: ClauseElement) -> DriverStatement:
    """`statement` compiled for the driver pool; statements are cached by identity, so pass
    ones built once (module constants or cached factories). No expanding `IN` lists."""
    compiled: Any = statement.compile(dialect=_ASYNCPG_DIALECT)
    if "POSTCOMPILE" in compiled.string:
        raise ValueError("expanding IN parameters cannot be compiled ahead for the driver")
    names = tuple(compiled.positiontup or ())
    filled_later = {column.key for column in compiled.update_prefetch + compiled.insert_prefetch}
    literals = {
        name: compiled.binds[name].value
        for name in names
        if not compiled.binds[name].required and name not in filled_later
    }
    return DriverStatement(compiled.string, names, literals)


async def _init_driver_connection(connection: asyncpg.Connection) -> None:
    # Decode JSON columns as the SQLAlchemy dialect does, with orjson (see create_engine).
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _keep_session_state(connection: asyncpg.Connection) -> None:
    """Nothing to reset: the driver pool only runs statements that change no session state
    (asyncpg still rolls back a transaction left open). The default reset is a
    `RESET ALL; UNLISTEN *; ...` round trip on every release."""


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        # Single-statement reads need no transaction: autocommit skips BEGIN/ROLLBACK.
        self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_sessionmaker = async_sessionmaker(
            self.read_engine, class_=AsyncSession, expire_on_commit=False
        )
        # The same, for writes where each statement is a transaction of its own.
        self.autocommit_sessionmaker = self.read_sessionmaker
        self._driver_pool: asyncpg.Pool | None = None
        self._driver_pool_lock = asyncio.Lock()

    async def driver_pool(self) -> asyncpg.Pool | None:
        """On PostgreSQL, a plain asyncpg pool for the hottest statements: the public
        catalogue reads and a prediction's claim and record. None on SQLite, where callers
        use the SQLAlchemy engine.

        Through SQLAlchemy each checkout costs greenlet round trips and pool bookkeeping, and
        each execution its compile-cache lookup and result wrapping: more CPU than PostgreSQL
        spends on these statements. Only for work that leaves no session state behind (no
        SET, LISTEN or session locks; transactions closed): connections are not reset when
        they return to the pool.
        """
        if self.engine.dialect.driver != "asyncpg":
            return None
        if self._driver_pool is None:
            async with self._driver_pool_lock:
                if self._driver_pool is None:
                    url = self.engine.url.set(drivername="postgresql")
                    self._driver_pool = await asyncpg.create_pool(
                        url.render_as_string(hide_password=False),
                        min_size=1,
                        max_size=self.settings.DB_DRIVER_POOL_SIZE,
                        init=_init_driver_connection,
                        reset=_keep_session_state,
                    )
        return self._driver_pool

    async def dispose(self) -> None:
        if self._driver_pool is not None:
            await self._driver_pool.close()
            self._driver_pool = None
        await self.engine.dispose()
