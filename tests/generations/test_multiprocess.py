"""API + two Redis-backed workers as real processes; one worker is killed mid-run.

Every generation must complete exactly once (one prediction, one stored file each) and no
orphan file may remain, although the killed worker's jobs are delivered again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import (
    PG_SERVER_URL,
    REDIS_HOST,
    REDIS_PORT,
    SUPERUSER_EMAIL,
    SUPERUSER_PASSWORD,
    create_postgres_database,
    drop_postgres_database,
)
from tests.fakes.server import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]
GENERATIONS = 100
STARTUP_TIMEOUT = 120


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    )


async def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    database_url = await create_postgres_database(PG_SERVER_URL)
    queue = f"test:generations:{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        "TASK_QUEUE_NAME": queue,
        "DATA_DIR": str(tmp_path / "data"),
        "FIRST_SUPERUSER": SUPERUSER_EMAIL,
        "FIRST_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
        "SECRET_KEY": "multiprocess-test-key-" + "y" * 32,
        "ENVIRONMENT": "development",
        "PORT": str(port),
        "PROVIDER_PLUGINS": "tests.fakes.providers",
        "WORKER_CONCURRENCY": "4",
        "GENERATION_LEASE_SECONDS": "2",
        "GENERATION_HEARTBEAT_SECONDS": "0.3",
        "GENERATION_SWEEP_SECONDS": "0.5",
        # Messages the killed worker had fetched but not started are only in its Redis
        # pending list; the sweeper re-enqueues their still-pending rows.
        "GENERATION_PENDING_REQUEUE_SECONDS": "3",
        "DB_POOL_SIZE": "5",
        # 100 generations from one credential: the per-credential budget is not under test.
        "RATE_LIMIT_ENABLED": "false",
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        # All three start together (migrations are serialised by an advisory lock).
        processes["api"] = _spawn(["-m", "app"], env, tmp_path / "api.log")
        for name in ("worker-a", "worker-b"):
            processes[name] = _spawn(["-m", "app.worker"], env, tmp_path / f"{name}.log")
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def api_up() -> bool:
                try:
                    return (await client.get("/api/v1/utils/health-check/")).status_code == 200
                except httpx.HTTPError:
                    return False

            # Generous: interpreter start-up alone is slow on a busy 2-core machine.
            await _wait_until(api_up, STARTUP_TIMEOUT, "the API")
            for name in ("worker-a", "worker-b"):
                log = tmp_path / f"{name}.log"

                async def ready(log: Path = log) -> bool:
                    text = await asyncio.to_thread(log.read_text, errors="replace")
                    return "worker ready" in text

                await _wait_until(ready, STARTUP_TIMEOUT, name)
            yield {
                "client": client,
                "processes": processes,
                "files": tmp_path / "data" / "files",
                "logs": tmp_path,
                "database_url": database_url,
            }
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        redis = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT)
        await redis.delete(queue)
        await redis.aclose()
        await drop_postgres_database(database_url)


async def test_generations_complete_exactly_once_when_a_worker_dies(
    cluster: dict[str, Any],
) -> None:
    client: httpx.AsyncClient = cluster["client"]
    r = await client.post(
        "/api/v1/login/access-token",
        data={"username": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD},
    )
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await client.post(
        "/api/v1/generation-models/",
        json={
            "name": "slow remote",
            "provider": "fal_standard",
            # Long enough that the run is still going when worker-a is killed: 100 jobs on
            # 2 x 4 slots take ~4 s, however fast the pipeline around them.
            "provider_config": {"additional_static_params": {"mode": "ok", "delay": 0.3}},
            "tool_types": ["BASE_GENERATION"],
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    model_id = r.json()["id"]
    body = {"batch_size": 1, "width": 64, "height": 64, "generative_models_id": model_id}
    limit = asyncio.Semaphore(10)

    async def submit(index: int) -> str:
        async with limit:
            r = await client.post(
                "/api/v1/generations/", json={**body, "seed": index}, headers=headers
            )
            assert r.status_code == 202, r.text
            return str(r.json()["id"])

    ids = await asyncio.gather(*(submit(i) for i in range(GENERATIONS)))

    async def completed() -> int:
        r = await client.get(
            "/api/v1/predictions/", params={"status": "COMPLETED", "limit": 1}, headers=headers
        )
        return int(r.json()["count"])

    async def some_done() -> bool:
        return await completed() >= 20

    await _wait_until(some_done, 30, "the first completions")
    # Kill worker-a only while it holds running predictions, so redelivery is really needed.
    log = await asyncio.to_thread((cluster["logs"] / "worker-a.log").read_text, errors="replace")
    victim_id = log.split("worker ready ", 1)[1].split()[0]
    dsn = cluster["database_url"].replace("postgresql+asyncpg://", "postgresql://")

    async def victim_busy() -> bool:
        conn = await asyncpg.connect(dsn)
        try:
            held = await conn.fetchval(
                "SELECT count(*) FROM prediction WHERE status = 'GENERATING' AND lease_owner = $1",
                victim_id,
            )
        finally:
            await conn.close()
        return bool(held)

    await _wait_until(victim_busy, 30, "worker-a running a prediction")
    victim = cluster["processes"]["worker-a"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert await completed() < GENERATIONS, "worker killed too late to prove anything"

    async def all_done() -> bool:
        return await completed() >= GENERATIONS

    await _wait_until(all_done, 60, "every generation")
    r = await client.get("/api/v1/generations/", params={"limit": 1000}, headers=headers)
    generations = r.json()["data"]
    assert sorted(g["id"] for g in generations) == sorted(ids)
    assert all(g["status"] == "COMPLETED" for g in generations)
    predictions = [p for g in generations for p in g["predictions"]]
    assert len(predictions) == GENERATIONS
    assert all(p["status"] == "COMPLETED" for p in predictions)
    # The killed worker's jobs ran again elsewhere…
    assert any(p["deliveries"] > 1 for p in predictions), "no prediction was redelivered"
    # …yet each generation has exactly one stored file, and nothing else is stored.
    await asyncio.sleep(0.5)
    files = [path for path in cluster["files"].rglob("*") if path.is_file()]
    assert len(files) == GENERATIONS
    stored = Counter(hashlib.sha256(path.read_bytes()).hexdigest() for path in files)
    assert stored == Counter(p["result_sha256"] for p in predictions)
    by_generation = Counter(path.parent.name for path in files)
    assert set(by_generation) == set(ids) and set(by_generation.values()) == {1}
    assert cluster["processes"]["worker-b"].poll() is None


async def test_a_stopping_worker_finishes_its_running_jobs(cluster: dict[str, Any]) -> None:
    """SIGTERM (a deploy, a scale-down) lets running jobs finish instead of paying for them
    twice: the worker takes no new job, completes the ones it holds, then exits cleanly."""
    client: httpx.AsyncClient = cluster["client"]
    r = await client.post(
        "/api/v1/login/access-token",
        data={"username": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD},
    )
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await client.post(
        "/api/v1/generation-models/",
        json={
            "name": "slow remote",
            "provider": "fal_standard",
            "provider_config": {"additional_static_params": {"mode": "ok", "delay": 2.5}},
            "tool_types": ["BASE_GENERATION"],
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body = {"batch_size": 1, "width": 64, "height": 64, "generative_models_id": r.json()["id"]}
    for seed in range(4):
        r = await client.post("/api/v1/generations/", json={**body, "seed": seed}, headers=headers)
        assert r.status_code == 202, r.text
    log = await asyncio.to_thread((cluster["logs"] / "worker-a.log").read_text, errors="replace")
    worker_id = log.split("worker ready ", 1)[1].split()[0]
    dsn = cluster["database_url"].replace("postgresql+asyncpg://", "postgresql://")
    held: list[Any] = []

    async def worker_busy() -> bool:
        conn = await asyncpg.connect(dsn)
        try:
            held[:] = await conn.fetch(
                "SELECT id FROM prediction WHERE status = 'GENERATING' AND lease_owner = $1",
                worker_id,
            )
        finally:
            await conn.close()
        return bool(held)

    await _wait_until(worker_busy, 30, "worker-a running a prediction")
    worker = cluster["processes"]["worker-a"]
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 30) == 0
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT status, deliveries FROM prediction WHERE id = ANY($1::uuid[])",
            [row["id"] for row in held],
        )
    finally:
        await conn.close()
    # Finished by the stopping worker itself, before it exited: not handed to another.
    assert [(row["status"], row["deliveries"]) for row in rows] == [("COMPLETED", 1)] * len(held)
