"""End-to-end generation throughput and per-prediction overhead, in-memory vs Redis broker.

    python -m bench.generations [--generations 200] [--delay 0.05] [--concurrency 16]

A provider with a fixed latency (bench/providers.py) serves every prediction, so what is
measured beyond that latency is the pipeline's own cost: API, queue, claim, storage, settle,
events. Completion is observed on the event bus (no polling). Figures printed per broker:
  * generations/s end to end (first POST until every generation is COMPLETED), and the ratio
    to the ideal rate concurrency/delay;
  * overhead per prediction beyond provider time (target: <= 5 ms):
    - amortised: concurrency * elapsed / predictions - provider time, i.e. the worker-slot
      time each prediction costs beyond its provider call under load (what bounds throughput);
    - in slot: claimed -> result committed, minus provider time (mean, p95), stamped by
      the process that ran it;
  * CPU time per generation of the API process (which runs the jobs too with the in-memory
    broker) and of the worker: a busy machine stretches wall times, much less CPU times;
  * a lone generation (one at a time, no queueing): client-side submit -> completed, minus
    provider time, with how long the POST took, how long created -> claimed took and the
    in-slot overhead (medians).
PostgreSQL at 127.0.0.1:5432 is used when reachable (SQLite otherwise, in-memory only);
the Redis run needs 127.0.0.1:6379 and starts one `python -m app.worker` subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
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


class Completions:
    """When each generation and prediction was seen finished, from the event bus itself.

    Listening to the bus (rather than polling the list endpoint) puts no load of its own on
    the process and the database being measured, and has no polling granularity.
    """

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.generations: dict[str, float] = {}  # generation id -> perf_counter when final
        self.predictions: dict[str, float] = {}  # prediction id -> when recorded
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Completions:
        from app.events.bus import EventType, GenerationEvent

        probe = uuid.uuid4()
        ready = self.expect(str(probe))
        self._task = asyncio.create_task(self._consume())
        # Subscribed once our own probe comes back: nothing published later can be missed.
        while not ready.done():
            await self.bus.publish(
                GenerationEvent(type=EventType.GENERATION_STATUS, generation_id=probe)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(ready), 0.2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def expect(self, generation_id: str) -> asyncio.Future[float]:
        waiter = self._waiters.get(generation_id)
        if waiter is None:
            waiter = self._waiters[generation_id] = asyncio.get_running_loop().create_future()
            if generation_id in self.generations:
                waiter.set_result(self.generations[generation_id])
        return waiter

    async def _consume(self) -> None:
        from app.events.bus import EventType

        async for event in self.bus.subscribe():
            now = time.perf_counter()
            if event.type == EventType.PREDICTION_COMPLETED and event.prediction_id:
                # Stamped by the worker right after its commit: no transport or loop lag.
                self.predictions[str(event.prediction_id)] = event.occurred_at.timestamp()
            elif event.is_terminal or (
                event.type == EventType.GENERATION_STATUS and not event.data
            ):
                # Final states, and our probe (a status event without data).
                gid = str(event.generation_id)
                self.generations.setdefault(gid, now)
                waiter = self._waiters.get(gid)
                if waiter is not None and not waiter.done():
                    waiter.set_result(self.generations[gid])


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]


def context_switch_us(rounds: int = 5000) -> float:
    """Wall time of a yield to the scheduler: every database or Redis round trip pays a few.
    On a shared VM it varies with the host's load, and the wall-clock figures below with it:
    compare runs made at a similar figure."""
    started = time.perf_counter()
    for _ in range(rounds):
        time.sleep(0)
    return (time.perf_counter() - started) / rounds * 1e6


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of another one (Linux /proc)."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    bus: Any,
    args: argparse.Namespace,
    worker_pid: int | None = None,
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

    async def fetch(ids: list[str]) -> list[dict[str, Any]]:
        r = await client.get("/api/v1/generations/", params={"limit": 1000}, headers=headers)
        r.raise_for_status()
        found = [g for g in r.json()["data"] if g["id"] in set(ids)]
        assert len(found) == len(ids) and all(g["status"] == "COMPLETED" for g in found), found
        return found

    async with Completions(bus) as seen:
        # A lone generation: the latency a client sees, submit -> completed, without queueing.
        lone: list[dict[str, float]] = []
        for _ in range(args.lone):
            started = time.perf_counter()
            r = await client.post("/api/v1/generations/", json=body, headers=headers)
            r.raise_for_status()
            answered = time.perf_counter()
            gid = r.json()["id"]
            finished = await asyncio.wait_for(seen.expect(gid), 60)
            [g] = await fetch([gid])
            p = g["predictions"][0]
            lone.append(
                {
                    "total": (finished - started) * 1000 - p["provider_time_ms"],
                    "request": (answered - started) * 1000,
                    "dispatch": (seconds(p["started_at"]) - seconds(g["created_at"])) * 1000,
                    "in_slot": (seen.predictions[p["id"]] - seconds(p["started_at"])) * 1000
                    - p["provider_time_ms"],
                }
            )
            await client.delete(f"/api/v1/generations/{gid}", headers=headers)

        # Many at once: throughput, and what each prediction costs beyond its provider call.
        limit = asyncio.Semaphore(32)

        async def submit() -> str:
            async with limit:
                r = await client.post("/api/v1/generations/", json=body, headers=headers)
                r.raise_for_status()
                return str(r.json()["id"])

        start = time.perf_counter()
        cpu_api = cpu_seconds()
        cpu_worker = cpu_seconds(worker_pid) if worker_pid else 0.0
        ids = await asyncio.gather(*(submit() for _ in range(args.generations)))
        finished_at = await asyncio.wait_for(
            asyncio.gather(*(seen.expect(gid) for gid in ids)), 600
        )
        elapsed = max(finished_at) - start
        cpu_api = cpu_seconds() - cpu_api
        cpu_worker = cpu_seconds(worker_pid) - cpu_worker if worker_pid else 0.0
        done = await fetch(ids)
    predictions = [p for g in done for p in g["predictions"]]
    provider_ms = statistics.fmean(p["provider_time_ms"] for p in predictions)
    # Claimed -> result recorded (committed), minus the provider call, by the worker's clock.
    in_slot = [
        (seen.predictions[p["id"]] - seconds(p["started_at"])) * 1000 - p["provider_time_ms"]
        for p in predictions
    ]
    return {
        "generations_per_s": len(done) / elapsed,
        "ideal_per_s": args.concurrency / args.delay,
        # Worker-slot time per prediction beyond the provider: concurrency * elapsed / count.
        "amortised_overhead_ms": args.concurrency * elapsed * 1000 / len(predictions) - provider_ms,
        "in_slot_mean_ms": statistics.fmean(in_slot),
        "in_slot_p95_ms": p95(in_slot),
        "lone_overhead_ms": statistics.median(x["total"] for x in lone),
        "lone_request_ms": statistics.median(x["request"] for x in lone),
        "lone_dispatch_ms": statistics.median(x["dispatch"] for x in lone),
        "lone_in_slot_ms": statistics.median(x["in_slot"] for x in lone),
        # CPU per generation: robust to a busy machine, where wall times stretch.
        "cpu_api_ms": cpu_api * 1000 / len(done),
        "cpu_worker_ms": cpu_worker * 1000 / len(done),
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
                return await run(client, await login(client), app.state.event_bus, args)


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
            # The worker logs to a file: an undrained pipe would block it once full.
            log_path = Path(tempfile.mkdtemp(prefix="bench-worker-")) / "worker.log"
            with log_path.open("wb") as log:
                worker = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
                    [sys.executable, "-m", "app.worker"],
                    cwd=ROOT,
                    env={**os.environ, **env},
                    stderr=log,
                    stdout=log,
                )
            try:
                deadline = time.monotonic() + 60
                while b"worker ready" not in log_path.read_bytes():
                    if worker.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"worker did not start:\n{log_path.read_text()[-3000:]}")
                    await asyncio.sleep(0.05)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench", timeout=60
                ) as client:
                    return await run(
                        client, await login(client), app.state.event_bus, args, worker.pid
                    )
            finally:
                worker.terminate()
                worker.wait(timeout=30)
                shutil.rmtree(log_path.parent, ignore_errors=True)
                import redis.asyncio as aioredis

                redis = aioredis.Redis()
                await redis.delete(queue)
                await redis.aclose()


def show(name: str, f: dict[str, float]) -> None:
    print(
        f"{name:10s} {f['generations_per_s']:7.1f} gen/s (ideal {f['ideal_per_s']:.0f}/s, "
        f"ratio {f['generations_per_s'] / f['ideal_per_s']:.2f})\n"
        f"{'':10s} overhead/prediction: amortised {f['amortised_overhead_ms']:.1f} ms, "
        f"in slot mean {f['in_slot_mean_ms']:.1f} ms p95 {f['in_slot_p95_ms']:.1f} ms\n"
        f"{'':10s} CPU per generation under load: this process {f['cpu_api_ms']:.1f} ms"
        + (f", worker {f['cpu_worker_ms']:.1f} ms" if f["cpu_worker_ms"] else "")
        + "\n"
        f"{'':10s} lone generation: {f['lone_overhead_ms']:.1f} ms beyond the provider "
        f"(POST answered in {f['lone_request_ms']:.1f} ms, "
        f"created -> claimed {f['lone_dispatch_ms']:.1f} ms, "
        f"in slot {f['lone_in_slot_ms']:.1f} ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.05, help="provider latency (s)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--broker", choices=("both", "in-memory", "redis"), default="both")
    parser.add_argument("--lone", type=int, default=10, help="lone generations, one by one")
    args = parser.parse_args()
    use_pg = reachable(5432)
    print(
        f"{args.generations} generations, provider latency {args.delay * 1000:.0f} ms, "
        f"concurrency {args.concurrency}, database {'PostgreSQL' if use_pg else 'SQLite'}, "
        f"a context switch costs {context_switch_us():.0f} us here now"
    )
    for name, runner, needs in (("in-memory", in_memory, None), ("redis", with_redis, 6379)):
        if args.broker not in ("both", name):
            continue
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
    # As the API (uvicorn) and the worker run: on uvloop.
    import uvloop

    uvloop.run(main())
