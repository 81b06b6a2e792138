"""Application settings: environment variables (and an optional `.env`), one module-level object."""

from __future__ import annotations

import contextlib
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse_many
from pydantic import (
    AnyHttpUrl,
    BeforeValidator,
    Field,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.url_guard import OutboundPolicy

# Values that appear in tutorials and templates; a deployment using one is as good as unkeyed.
WEAK_SECRET_KEYS = frozenset(
    {"", "changethis", "changeme", "secret", "secret-key", "your-secret-key", "dev", "test"}
)
MIN_SECRET_KEY_LENGTH = 32


def _parse_list(value: Any) -> list[str] | Any:
    if isinstance(value, str) and not value.startswith("["):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, str):
        import json

        return json.loads(value)
    return value


DEFAULT_RATE_LIMITS = {
    "default": "600/minute",
    "generations": "60/minute",
    "login": "10/minute",
    "login_address": "60/minute",
}


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
    DB_DRIVER_POOL_SIZE: int = 10
    DB_ECHO: bool = False
    REDIS_URL: str | None = None

    # Empty means: generated once and persisted under DATA_DIR.
    SECRET_KEY: str = ""
    ACCESS_TOKEN_EXPIRE_MINUTES: int = 60
    JWT_ALGORITHM: Literal["HS256"] = "HS256"

    FIRST_SUPERUSER: str = "admin@example.com"
    FIRST_SUPERUSER_PASSWORD: str | None = None

    BACKEND_CORS_ORIGINS: Annotated[
        list[AnyHttpUrl] | str, NoDecode, BeforeValidator(_parse_list)
    ] = []

    # Hosts, IPs or CIDRs that user-supplied URLs may reach although they are not public
    # (tests, an internal mirror). Everything else private/loopback/link-local is refused.
    OUTBOUND_ALLOWED_HOSTS: Annotated[list[str], NoDecode, BeforeValidator(_parse_list)] = []
    # Local image paths given by users must resolve inside this directory (default: DATA_DIR).
    DATA_FILES_DIR: Path | None = None

    # Untrusted images (uploads, URLs, data URLs, local paths): refused above these limits.
    IMAGE_MAX_BYTES: int = 20 * 1024 * 1024
    # Checked from the header before decoding, so decompression bombs are never expanded.
    IMAGE_MAX_PIXELS: int = 50_000_000
    IMAGE_FETCH_TIMEOUT_SECONDS: float = 15.0
    # Request bodies above this are refused with 413 before they are read whole (images come
    # inline as data URLs: a few of IMAGE_MAX_BYTES each, base64-encoded).
    MAX_REQUEST_BYTES: int = 64 * 1024 * 1024

    # LLM backends of `ai_core` generation models (prompt enhancement and generation).
    OPENAI_API_KEY: str | None = None
    OPENAI_BASE_URL: str = "https://api.openai.com/v1"
    ANTHROPIC_API_KEY: str | None = None
    ANTHROPIC_BASE_URL: str = "https://api.anthropic.com"
    OLLAMA_HOST: str = "http://localhost:11434"
    # Whole-call budget of one LLM request; past it the deterministic prompt is used.
    LLM_TIMEOUT_SECONDS: float = 30.0

    # Applying migrations on start keeps `make run` zero-configuration; multi-replica
    # deployments run `alembic upgrade head` once instead and turn this off.
    AUTO_MIGRATE: bool = True
    SEED_DEFAULTS: bool = True

    # --- external providers -------------------------------------------------------------
    # Credentials are only ever read from here (env / .env); they are never logged.
    # fal.ai queue API (`Authorization: Key <FAL_KEY>`; the key is often `key_id:key_secret`).
    FAL_KEY: str | None = None
    FAL_QUEUE_URL: str = "https://queue.fal.run"
    # Freepik / Magnific upscalers; the API is also published as Magnific under another host
    # and header name, hence both are configurable.
    FREEPIK_API_KEY: str | None = None
    FREEPIK_BASE_URL: str = "https://api.freepik.com"
    FREEPIK_API_KEY_HEADER: str = "x-freepik-api-key"
    # Gemini image and text models through google-genai: Vertex AI when VERTEX_PROJECT is set
    # (Application Default Credentials), otherwise the Gemini API with GEMINI_API_KEY.
    GEMINI_API_KEY: str | None = None
    GEMINI_BASE_URL: str | None = None  # None: the SDK's default host
    VERTEX_PROJECT: str | None = None
    VERTEX_LOCATION: str = "global"
    VERTEX_BASE_URL: str | None = None  # None: the SDK's default regional host
    # The Gemini image model the Nano Banana upscaler asks to upscale.
    NANO_BANANA_UPSCALER_MODEL: str = "gemini-2.5-flash-image"

    # One HTTP request to a provider API (submit, poll, download, generateContent).
    PROVIDER_REQUEST_TIMEOUT_SECONDS: float = 120.0
    # A whole remote job (queue wait + processing) before we give up and fall back.
    PROVIDER_JOB_TIMEOUT_SECONDS: float = 540.0
    # Polling of queue/task APIs: starts at the interval, grows by 1.5x up to the maximum.
    PROVIDER_POLL_INTERVAL_SECONDS: float = 1.0
    PROVIDER_POLL_MAX_INTERVAL_SECONDS: float = 10.0
    # Retries of 408/409/429/5xx and connection failures, exponential backoff with jitter.
    PROVIDER_RETRY_ATTEMPTS: int = 4
    PROVIDER_RETRY_BASE_DELAY_SECONDS: float = 0.5
    PROVIDER_RETRY_MAX_DELAY_SECONDS: float = 20.0
    # Provider result images are provider-controlled URLs: cap what we accept.
    PROVIDER_MAX_DOWNLOAD_BYTES: int = 60 * 1024 * 1024

    # --- generations: execution, storage, providers -----------------------------------
    # Without REDIS_URL jobs run inside the API process (Taskiq in-memory broker); with it
    # they go through a Redis stream to `python -m app.worker` processes.
    TASK_QUEUE_NAME: str = "sartiq:generations"
    WORKER_CONCURRENCY: int = Field(default=8, ge=1, le=1024)
    # On SIGTERM a worker stops taking jobs and lets running ones finish this long (a paid
    # provider call interrupted is paid again elsewhere); what is still running after it is
    # interrupted and its lease released. Keep it under the orchestrator's kill timeout.
    WORKER_SHUTDOWN_GRACE_SECONDS: float = Field(default=25.0, ge=0)
    # A running prediction holds a lease it renews every heartbeat; a lease that runs out
    # (the worker died) makes the prediction eligible to run again.
    GENERATION_LEASE_SECONDS: float = Field(default=60.0, gt=0)
    GENERATION_HEARTBEAT_SECONDS: float = Field(default=2.0, gt=0)
    # How often workers look for expired leases and pending work whose message was lost.
    GENERATION_SWEEP_SECONDS: float = Field(default=10.0, gt=0)
    # Pending work whose message has waited this long is enqueued again: messages lost with
    # Redis, or fetched by a worker that died before starting them. A duplicate message is
    # harmless (the claim refuses it), so this trades a little queue traffic for latency.
    GENERATION_PENDING_REQUEUE_SECONDS: float = Field(default=120.0, gt=0)
    # A prediction delivered this many times without finishing is given up as an error.
    GENERATION_MAX_DELIVERIES: int = Field(default=5, ge=1)
    # Per provider call; a primary that takes longer counts as failed and the fallback runs.
    PROVIDER_TIMEOUT_SECONDS: float = Field(default=600.0, gt=0)
    # Extra provider modules imported at start (each exposes `register(registry)`).
    PROVIDER_PLUGINS: Annotated[list[str], NoDecode, BeforeValidator(_parse_list)] = []

    STORAGE_BACKEND: Literal["local", "s3"] = "local"
    # Empty means DATA_DIR/files.
    FILES_DIR: Path | None = None
    S3_BUCKET: str | None = None
    S3_PREFIX: str = ""
    S3_ENDPOINT_URL: str | None = None
    S3_REGION: str | None = None
    S3_ACCESS_KEY_ID: str | None = None
    S3_SECRET_ACCESS_KEY: str | None = None
    SIGNED_URL_TTL_SECONDS: int = Field(default=300, ge=1, le=7 * 24 * 3600)

    # Rate limits per caller (user or API key) and route group, in `limits` notation
    # ("60/minute", "1000 per hour", "10/second;100/minute"); JSON in the environment, e.g.
    # RATE_LIMITS='{"generations": "30/minute"}'. Groups not listed use "default".
    RATE_LIMIT_ENABLED: bool = True
    # "login" budgets sign-in attempts per account and client address, "login_address" per
    # client address. Groups a setting leaves out keep these defaults.
    RATE_LIMITS: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))

    # Idempotency-Key: how long a key's first response is replayed, and how long a duplicate
    # waits for the first request still running before answering 409.
    IDEMPOTENCY_TTL_SECONDS: int = 24 * 3600
    IDEMPOTENCY_WAIT_SECONDS: float = 10.0
    # A request marked in progress for longer than this is taken as crashed; the key is freed.
    IDEMPOTENCY_LOCK_SECONDS: int = 300

    # Webhook deliveries: sent by the background dispatcher (in this process when enabled;
    # turn it off on API replicas that leave delivery to workers), retried with exponential
    # backoff and jitter until the retry window closes.
    WEBHOOK_DISPATCHER_ENABLED: bool = True
    WEBHOOK_POLL_SECONDS: float = 1.0
    WEBHOOK_TIMEOUT_SECONDS: float = 10.0
    WEBHOOK_RETRY_BASE_SECONDS: float = 5.0
    WEBHOOK_RETRY_MAX_DELAY_SECONDS: float = 3600.0
    WEBHOOK_RETRY_WINDOW_SECONDS: float = 24 * 3600.0
    WEBHOOK_CONCURRENCY: int = 16

    # Live events: how long Redis keeps a generation's event stream for reconnecting clients.
    EVENT_STREAM_TTL_SECONDS: int = 24 * 3600
    EVENT_STREAM_MAXLEN: int = 10_000

    @computed_field  # type: ignore[prop-decorator]
    @property
    def all_cors_origins(self) -> list[str]:
        origins: Any = self.BACKEND_CORS_ORIGINS
        if isinstance(origins, str):
            origins = _parse_list(origins)
        return [str(origin).rstrip("/") for origin in origins]

    @property
    def data_files_dir(self) -> Path:
        return (self.DATA_FILES_DIR or self.DATA_DIR).resolve()

    def redact(self, text: str) -> str:
        """`text` without the credentials configured here (a provider's error may echo the
        key it was sent), before it is stored or logged."""
        for secret in (
            self.FAL_KEY,
            self.FREEPIK_API_KEY,
            self.GEMINI_API_KEY,
            self.OPENAI_API_KEY,
            self.ANTHROPIC_API_KEY,
            self.S3_SECRET_ACCESS_KEY,
        ):
            # fal keys are "key_id:key_secret": either half may be echoed alone.
            for part in (secret or "", *(secret or "").split(":")):
                if len(part) >= 8:
                    text = text.replace(part, "[redacted]")
        return text

    @cached_property
    def outbound_policy(self) -> OutboundPolicy:
        return OutboundPolicy.from_entries(self.OUTBOUND_ALLOWED_HOSTS)

    @property
    def files_dir(self) -> Path:
        return (self.FILES_DIR or self.DATA_DIR / "files").resolve()

    @property
    def private_paths(self) -> tuple[Path, ...]:
        """What the server keeps under DATA_DIR for itself, which user-given image paths may
        not name although DATA_FILES_DIR (DATA_DIR by default) contains it: every
        organization's stored results, the signing key, the SQLite database."""
        database = (self.DATA_DIR / "app.db").resolve()
        return (
            self.files_dir,
            (self.DATA_DIR / "secret_key").resolve(),
            *(
                database.with_name(database.name + suffix)
                for suffix in ("", "-wal", "-shm", "-journal")
            ),
        )

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
        if not path.exists():
            self.DATA_DIR.mkdir(parents=True, exist_ok=True)
            # Written whole aside, then linked into place: os.link fails if the name exists,
            # so of processes starting together one key wins, and no process ever reads a
            # file created but not yet written (an empty key signs forgeable tokens).
            aside = path.with_name(f".secret_key.{secrets.token_hex(8)}")
            fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
                    handle.flush()
                    os.fsync(handle.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(aside, path)
            finally:
                aside.unlink(missing_ok=True)
        key = path.read_text().strip()
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"{path} holds no usable key (empty or short): delete it to have a new one "
                "generated (signing everyone out), or set SECRET_KEY"
            )
        return key

    @field_validator("RATE_LIMITS")
    @classmethod
    def _parse_rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        value = {**DEFAULT_RATE_LIMITS, **value}
        for group, spec in value.items():
            try:
                parse_many(spec)
            except ValueError as exc:
                raise ValueError(f"RATE_LIMITS[{group!r}]: cannot parse {spec!r}") from exc
        return value

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
