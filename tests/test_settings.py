from __future__ import annotations

import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.main import create_app


def _settings(tmp_path: Path, **values: Any) -> Settings:
    # An empty DATABASE_URL means the embedded SQLite file, whatever the environment says.
    values.setdefault("DATABASE_URL", "")
    return Settings(_env_file=None, DATA_DIR=tmp_path, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize("key", ["changethis", "secret", "short-but-random"])
def test_weak_secret_key_refused_outside_development(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        _settings(tmp_path, ENVIRONMENT="production", SECRET_KEY=key)
    # Development keeps working with whatever is configured.
    assert _settings(tmp_path, ENVIRONMENT="development", SECRET_KEY=key).secret_key == key


def test_strong_secret_key_accepted_in_production(tmp_path: Path) -> None:
    key = uuid.uuid4().hex * 2
    assert _settings(tmp_path, ENVIRONMENT="production", SECRET_KEY=key).secret_key == key


def test_secret_key_generated_once_and_persisted(tmp_path: Path) -> None:
    first = _settings(tmp_path).secret_key
    assert len(first) >= 32
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _settings(tmp_path).secret_key == first


def test_processes_generating_the_key_together_all_read_the_same_whole_key(
    tmp_path: Path,
) -> None:
    # The file was created empty and written after: a process reading in between signed
    # with an empty key (forgeable tokens) for its whole life.
    script = (
        "import sys; from pathlib import Path; from app.core.config import Settings; "
        "print(Settings(_env_file=None, DATABASE_URL='', DATA_DIR=Path(sys.argv[1])).secret_key)"
    )
    for attempt in range(5):
        data_dir = tmp_path / str(attempt)
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(data_dir)], stdout=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        keys = {process.communicate(timeout=60)[0].strip() for process in processes}
        assert len(keys) == 1 and len(keys.pop()) >= 32
        assert [p.name for p in data_dir.iterdir()] == ["secret_key"]  # nothing left aside


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ValueError, match="holds no usable key"):
        _ = _settings(tmp_path).secret_key


def test_cors_origins_from_comma_separated_env(tmp_path: Path) -> None:
    settings = _settings(tmp_path, BACKEND_CORS_ORIGINS="http://a.example, https://b.example/")
    assert settings.all_cors_origins == ["http://a.example", "https://b.example"]


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'app.db').resolve()}"


async def test_first_start_generates_and_prints_superuser_password_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path, FIRST_SUPERUSER="boss@example.com")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        printed = capsys.readouterr().err
        assert "boss@example.com" in printed
        password = printed.split("Generated password (shown once): ", 1)[1].split()[0]
        assert len(password) >= 16
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.post(
                "/api/v1/login/access-token",
                data={"username": "boss@example.com", "password": password},
            )
            assert r.status_code == 200
            models = (await client.get("/api/v1/generation-models/")).json()
            assert any(m["provider"] == "local" and m["recommended"] for m in models["data"])
    # A second start finds the user and prints nothing.
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert "Generated password" not in capsys.readouterr().err
