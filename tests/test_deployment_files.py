"""Dockerfile, docker-compose.yml and .dockerignore agree with the code they ship.

No Docker engine runs in CI, so these check what can be checked without one: the services and
their wiring, that required secrets make compose refuse to start, that every command and
setting named exists in the app, and that the image runs as an unprivileged user.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, with continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _module_of(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"], command
    return command[2]


def test_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"api", "worker", "postgres", "redis"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("api", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name


def test_compose_commands_exist_in_the_repo(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["api"]["command"] == ["python", "-m", "app"]
    assert services["worker"]["command"] == ["python", "-m", "app.worker"]
    for name in ("api", "worker"):
        module = _module_of(services[name]["command"])
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        if spec.submodule_search_locations is not None:  # a package runs its __main__
            assert importlib.util.find_spec(f"{module}.__main__") is not None, module


def test_compose_environment(compose: dict[str, Any]) -> None:
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    for env in (api["environment"], worker["environment"]):
        # Every variable set is one the app reads: a typo would silently do nothing.
        assert set(env) <= set(Settings.model_fields), set(env) - set(Settings.model_fields)
        assert env["ENVIRONMENT"] == "production"
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["DATA_DIR"] == "/data"
        # `${VAR:?message}`: compose refuses to start when a secret is missing.
        for secret in ("SECRET_KEY", "FIRST_SUPERUSER_PASSWORD"):
            assert env[secret].startswith(f"${{{secret}:?"), env[secret]
        assert ":?" in env["DATABASE_URL"]  # the database password too
    assert api["environment"]["AUTO_MIGRATE"] == "true"
    assert worker["environment"]["AUTO_MIGRATE"] == "false"
    assert worker["depends_on"]["api"]["condition"] == "service_healthy"
    # The image's check asks the API's port: a worker would always be unhealthy.
    assert worker["healthcheck"] == {"disable": True}
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"


async def test_api_healthcheck_hits_the_health_route(
    compose: dict[str, Any], client: httpx.AsyncClient
) -> None:
    check = " ".join(compose["services"]["api"]["healthcheck"]["test"])
    match = re.search(r"http://127\.0\.0\.1:8000(/[^'\" ]+)", check)
    assert match is not None, check
    r = await client.get(match.group(1))
    assert r.status_code == 200
    assert r.json() is True


def test_dockerfile_is_multi_stage_and_unprivileged(dockerfile: list[tuple[str, str]]) -> None:
    stages = [args for keyword, args in dockerfile if keyword == "FROM"]
    assert len(stages) >= 2
    assert stages[-1].endswith("AS runtime")
    runtime = dockerfile[max(i for i, (k, _) in enumerate(dockerfile) if k == "FROM") :]
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
    assert "uv sync --locked --no-dev" in runs
    env = " ".join(args for keyword, args in runtime if keyword == "ENV")
    assert "DATA_DIR=/data" in env
    assert "HOST=0.0.0.0" in env
    assert ("EXPOSE", "8000") in runtime
    assert ("VOLUME", '["/data"]') in runtime
    assert ("CMD", '["python", "-m", "app"]') in runtime


def test_dockerfile_copies_what_exists_and_uses_the_makefile_uv(
    dockerfile: list[tuple[str, str]],
) -> None:
    for keyword, args in dockerfile:
        if keyword == "COPY" and "--from=" not in args:
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), source
    uv_arg = next(args for keyword, args in dockerfile if args.startswith("UV_VERSION="))
    makefile = (ROOT / "Makefile").read_text()
    pinned = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", makefile, re.MULTILINE)
    assert pinned is not None
    assert uv_arg == f"UV_VERSION={pinned.group(1)}"


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", ".tools", "data", ".git"} <= ignored
    assert not {"app", "alembic", "alembic.ini", "pyproject.toml", "uv.lock"} & ignored
