"""End-to-end generation throughput and per-prediction overhead, in-memory vs Redis broker.

    python -m bench.generations [--generations 200] [--delay 0.05] [--concurrency 16]

A provider with a fixed latency (bench/providers.py) serves every prediction, so what is
measured beyond that latency is the pipeline's own cost: claim, lease, storage, settle.
Figures printed per broker:
  * generations/s end to end (POST until every generation is COMPLETED), and the ratio to the
    ideal rate concurrency/delay measured in the same run;
  * overhead per prediction = processing_time_ms - provider_time_ms (claim -> recorded),
    mean and p95 (target: <= 5 ms);
  * latency overhead of a lone generation (created -> finished, minus provider time).
PostgreSQL at 127.0.0.1:5432 is used when reachable (SQLite otherwise, in-memory only);
the Redis run needs 127.0.0.1:6379 and starts one `python -m app.worker` subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432"
EMAIL, PASSWORD = "bench@example.com", "bench-password-123"


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


async def create_db() -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"{PG}/{name}"


async def drop_db(url: str) -> None:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await conn.close()


def ms_between(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() * 1000


async def run(
    client: httpx.AsyncClient, headers: dict[str, str], args: argparse.Namespace
) -> dict[str, float]:
    r = await client.post(
        "/api/v1/generation-models/",
        json={
            "name": "fixed latency",
            "provider": "fal_standard",
            "provider_config": {"additional_static_params": {"delay": args.delay}},
            "tool_types": ["BASE_GENERATION"],
        },
        headers=headers,
    )
    r.raise_for_status()
    body = {
        "batch_size": 1,
        "width": 64,
        "height": 64,
        "generative_models_id": r.json()["id"],
        "auto_generate_prompt": False,
        "generated_prompt": "bench",
    }

    async def wait(ids: set[str], timeout: float = 300) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            r = await client.get(
                "/api/v1/generations/",
                params={"status": "COMPLETED", "limit": 1000},
                headers=headers,
            )
            done = [g for g in r.json()["data"] if g["id"] in ids]
            if len(done) == len(ids):
                return done
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(done)}/{len(ids)} completed")
            await asyncio.sleep(0.02)

    # A lone generation: latency overhead without queueing.
    lone = []
    for _ in range(5):
        r = await client.post("/api/v1/generations/", json=body, headers=headers)
        gid = r.json()["id"]
        [g] = await wait({gid})
        p = g["predictions"][0]
        lone.append(ms_between(g["created_at"], g["finished_at"]) - p["provider_time_ms"])
        await client.delete(f"/api/v1/generations/{gid}", headers=headers)

    limit = asyncio.Semaphore(32)

    async def submit() -> str:
        async with limit:
            r = await client.post("/api/v1/generations/", json=body, headers=headers)
            r.raise_for_status()
            return str(r.json()["id"])

    start = time.perf_counter()
    ids = set(await asyncio.gather(*(submit() for _ in range(args.generations))))
    done = await wait(ids)
    elapsed = time.perf_counter() - start
    overheads = sorted(
        p["processing_time_ms"] - p["provider_time_ms"] for g in done for p in g["predictions"]
    )
    return {
        "generations_per_s": len(done) / elapsed,
        "ideal_per_s": args.concurrency / args.delay,
        "overhead_mean_ms": statistics.fmean(overheads),
        "overhead_p95_ms": overheads[int(len(overheads) * 0.95) - 1],
        "lone_latency_overhead_ms": statistics.median(lone),
    }


async def login(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post(
        "/api/v1/login/access-token", data={"username": EMAIL, "password": PASSWORD}
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def base_env(database_url: str, data_dir: str, args: argparse.Namespace) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "DATA_DIR": data_dir,
        "FIRST_SUPERUSER": EMAIL,
        "FIRST_SUPERUSER_PASSWORD": PASSWORD,
        "SECRET_KEY": "bench-secret-key-" + "z" * 32,
        "ENVIRONMENT": "development",
        "PROVIDER_PLUGINS": "bench.providers",
        "WORKER_CONCURRENCY": str(args.concurrency),
        # The bench sends far more than one credential's per-minute budget.
        "RATE_LIMIT_ENABLED": "false",
    }


async def in_memory(database_url: str, args: argparse.Namespace) -> dict[str, float]:
    from app.core.config import Settings
    from app.main import create_app

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(_env_file=None, **base_env(database_url, data_dir, args))  # type: ignore[call-arg,arg-type]
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", timeout=60
            ) as client:
                return await run(client, await login(client), args)


async def with_redis(database_url: str, args: argparse.Namespace) -> dict[str, float]:
    from app.core.config import Settings
    from app.main import create_app

    queue = f"bench:generations:{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = base_env(database_url, data_dir, args) | {
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "TASK_QUEUE_NAME": queue,
        }
        settings = Settings(_env_file=None, **env)  # type: ignore[call-arg,arg-type]
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            worker = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
                [sys.executable, "-m", "app.worker"],
                cwd=ROOT,
                env={**os.environ, **env},
                stderr=subprocess.PIPE,
            )
            try:
                assert worker.stderr is not None
                for line in iter(worker.stderr.readline, b""):
                    if b"worker ready" in line:
                        break
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench", timeout=60
                ) as client:
                    return await run(client, await login(client), args)
            finally:
                worker.terminate()
                worker.wait(timeout=30)
                import redis.asyncio as aioredis

                redis = aioredis.Redis()
                await redis.delete(queue)
                await redis.aclose()


def show(name: str, figures: dict[str, float]) -> None:
    print(
        f"{name:10s} {figures['generations_per_s']:8.1f} gen/s "
        f"(ideal {figures['ideal_per_s']:.0f}/s, ratio {figures['generations_per_s'] / figures['ideal_per_s']:.2f})  "
        f"overhead/prediction mean {figures['overhead_mean_ms']:.2f} ms p95 {figures['overhead_p95_ms']:.2f} ms  "
        f"lone-generation latency overhead {figures['lone_latency_overhead_ms']:.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.05, help="provider latency (s)")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    use_pg = reachable(5432)
    print(
        f"{args.generations} generations, provider latency {args.delay * 1000:.0f} ms, "
        f"concurrency {args.concurrency}, database {'PostgreSQL' if use_pg else 'SQLite'}"
    )
    for name, runner, needs in (("in-memory", in_memory, None), ("redis", with_redis, 6379)):
        if needs and (not reachable(needs) or not use_pg):
            print(f"{name:10s} skipped (needs PostgreSQL and Redis)")
            continue
        if use_pg:
            url = await create_db()
        else:
            url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
        try:
            show(name, await runner(url, args))
        finally:
            if use_pg:
                await drop_db(url)


if __name__ == "__main__":
    asyncio.run(main())
