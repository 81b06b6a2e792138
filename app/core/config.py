"""Application settings: environment variables (and an optional `.env`), one module-level object."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BeforeValidator, computed_field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.url_guard import OutboundPolicy

# Values that appear in tutorials and templates; a deployment using one is as good as unkeyed.
WEAK_SECRET_KEYS = frozenset(
    {"", "changethis", "changeme", "secret", "secret-key", "your-secret-key", "dev", "test"}
)
MIN_SECRET_KEY_LENGTH = 32


def _parse_cors(value: Any) -> list[str] | Any:
    if isinstance(value, str) and not value.startswith("["):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, str):
        import json

        return json.loads(value)
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    PROJECT_NAME: str = "Sartiq Backend Server"
    API_V1_STR: str = "/api/v1"
    ENVIRONMENT: Literal["development", "staging", "production"] = "development"

    HOST: str = "127.0.0.1"
    PORT: int = 8000
    # One log line per request; turn off where a proxy in front already logs requests.
    ACCESS_LOG: bool = True

    DATA_DIR: Path = Path("./data")
    # Empty means: an embedded SQLite file under DATA_DIR.
    DATABASE_URL: str = ""
    DB_POOL_SIZE: int = 20
    DB_MAX_OVERFLOW: int = 20
    DB_ECHO: bool = False
    REDIS_URL: str | None = None

    # Empty means: generated once and persisted under DATA_DIR.
    SECRET_KEY: str = ""
    ACCESS_TOKEN_EXPIRE_MINUTES: int = 60
    JWT_ALGORITHM: Literal["HS256"] = "HS256"

    FIRST_SUPERUSER: str = "admin@example.com"
    FIRST_SUPERUSER_PASSWORD: str | None = None

    BACKEND_CORS_ORIGINS: Annotated[
        list[AnyHttpUrl] | str, NoDecode, BeforeValidator(_parse_cors)
    ] = []

    # Hosts, IPs or CIDRs that user-supplied URLs may reach although they are not public
    # (tests, an internal mirror). Everything else private/loopback/link-local is refused.
    OUTBOUND_ALLOWED_HOSTS: Annotated[list[str], NoDecode, BeforeValidator(_parse_cors)] = []
    # Local image paths given by users must resolve inside this directory (default: DATA_DIR).
    DATA_FILES_DIR: Path | None = None

    # Applying migrations on start keeps `make run` zero-configuration; multi-replica
    # deployments run `alembic upgrade head` once instead and turn this off.
    AUTO_MIGRATE: bool = True
    SEED_DEFAULTS: bool = True

    @computed_field  # type: ignore[prop-decorator]
    @property
    def all_cors_origins(self) -> list[str]:
        origins: Any = self.BACKEND_CORS_ORIGINS
        if isinstance(origins, str):
            origins = _parse_cors(origins)
        return [str(origin).rstrip("/") for origin in origins]

    @property
    def data_files_dir(self) -> Path:
        return (self.DATA_FILES_DIR or self.DATA_DIR).resolve()

    @cached_property
    def outbound_policy(self) -> OutboundPolicy:
        return OutboundPolicy.from_entries(self.OUTBOUND_ALLOWED_HOSTS)

    @property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            return self.DATABASE_URL
        return f"sqlite+aiosqlite:///{(self.DATA_DIR / 'app.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def secret_key(self) -> str:
        """The signing key: configured, or generated once and kept in DATA_DIR."""
        if self.SECRET_KEY:
            return self.SECRET_KEY
        path = self.DATA_DIR / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # O_EXCL: when two processes start together, one writes and both read the same key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key

    @model_validator(mode="after")
    def _refuse_weak_secret(self) -> Settings:
        if self.ENVIRONMENT == "development" or not self.SECRET_KEY:
            return self
        if (
            self.SECRET_KEY.lower() in WEAK_SECRET_KEYS
            or len(self.SECRET_KEY) < MIN_SECRET_KEY_LENGTH
        ):
            raise ValueError(
                f"SECRET_KEY is a known or short value; set a random key of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters (or leave it unset to generate one) "
                f"when ENVIRONMENT={self.ENVIRONMENT}"
            )
        return self


settings = Settings()
