"""Benchmark of the prompt endpoints against the health check, measured in the same run.

`python -m bench.prompts [--duration 8 --warmup 2 --concurrency 32]`:

1. creates a PostgreSQL database of its own (dropped at the end; `--server-url` to choose);
2. starts the app as `make run` does (`python -m app`: one uvicorn process on loopback,
   migrations and seeding at start) pointed at it;
3. creates a user and a small catalogue through the API (subject, two products, style,
   shooting look; the standard shot types are seeded);
4. for each scenario, drives the server from a separate load-generator process (this module,
   `load` sub-command: httpx on uvloop, one keep-alive connection per worker) with a warm-up,
   and prints requests/s, p50, p99 and the throughput ratio to the health check.

No LLM model is configured, so the prompt endpoints measure the deterministic chain: entity
resolution, system prompts and the builders. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
API = "/api/v1"
HEALTH = f"{API}/utils/health-check/"
ADMIN = "bench-admin@example.com"


# --- load generator (runs in its own process) --------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(fraction * len(values)) - 1))]


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    concurrency, warmup, duration = spec["concurrency"], spec["warmup"], spec["duration"]
    limits = httpx.Limits(max_connections=1)
    clients = [
        httpx.AsyncClient(base_url=spec["base"], limits=limits, timeout=30.0)
        for _ in range(concurrency)
    ]
    latencies: list[float] = []
    errors = 0
    record_from = time.perf_counter() + warmup
    stop_at = record_from + duration

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        async with client:
            while (sent := time.perf_counter()) < stop_at:
                try:
                    response = await client.request(
                        spec["method"], spec["path"], json=spec.get("body"), headers=spec["headers"]
                    )
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if sent >= record_from:
                    if ok:
                        latencies.append(time.perf_counter() - sent)
                    else:
                        errors += 1

    await asyncio.gather(*(worker(client) for client in clients))
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / duration,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def load_main(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    try:
        import uvloop

        result = uvloop.run(_load(spec))
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        result = asyncio.run(_load(spec))
    print(json.dumps(result))


# --- orchestration -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin_sql(server_url: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(server_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    name = f"bench_prompts_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin_sql(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def app_server(database_url: str, password: str, workdir: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(workdir / "data"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "FIRST_SUPERUSER": ADMIN,
        "FIRST_SUPERUSER_PASSWORD": password,
        "ENVIRONMENT": "development",
        # One credential drives thousands of requests: budgets high enough never to refuse,
        # so the rate-limit dependency is paid but 429s are not what gets measured.
        "RATE_LIMITS": '{"default": "10000000/minute", "generations": "10000000/minute"}',
    }
    log = workdir / "app.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise SystemExit(f"app exited at start:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(base + HEALTH, timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"app not ready:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def prepare(base: str, password: str) -> dict[str, Any]:
    """A user and a catalogue; returns the user's headers and the request bodies."""
    with httpx.Client(base_url=base + API, timeout=30.0) as c:
        admin = c.post("/login/access-token", data={"username": ADMIN, "password": password})
        admin.raise_for_status()
        admin_headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
        email, user_password = f"bench-{uuid.uuid4().hex[:8]}@example.com", secrets.token_hex(12)
        c.post(
            "/users/", json={"email": email, "password": user_password}, headers=admin_headers
        ).raise_for_status()
        token = c.post("/login/access-token", data={"username": email, "password": user_password})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            r = c.post(path, json=body, headers=headers)
            r.raise_for_status()
            return dict(r.json())

        subject = post(
            "/subjects/",
            {
                "name": "Ava",
                "gender": "FEMALE",
                "age_class": "YOUNG",
                "description": "auburn hair, freckles",
                "lora_path": "https://cdn.example.com/ava.safetensors",
                "lora_trigger": "ohwx",
            },
        )
        shirt = post(
            "/products/",
            {"name": "Linen Shirt", "description": "white linen shirt", "gender": "FEMALE"},
        )
        jeans = post("/products/", {"name": "Jeans", "description": "straight blue jeans"})
        style = post("/styles/", {"name": "Editorial", "description": "soft editorial"})
        look = post(
            "/shooting-looks/",
            {
                "name": "Summer",
                "subject_id": subject["id"],
                "main_product_id": shirt["id"],
                "style_id": style["id"],
                "background": "light grey seamless paper",
                "lighting": "soft daylight",
            },
        )
        shots = c.get("/shot-types/", headers=headers).json()["data"]
        front = next(s for s in shots if s["slug"] == "full-body-front")
    return {
        "headers": headers,
        "compose": {"shot_type_id": front["id"], "shooting_look_id": look["id"]},
        "create": {
            "subject_id": subject["id"],
            "product_id": shirt["id"],
            "product2_slug": jeans["slug"],
            "style_id": style["id"],
            "shot_type_string": "full-body-front,full-body-back",
            "extra_prompt": "crisp fabric texture",
        },
    }


def run_scenario(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    spec_file = workdir / "spec.json"
    spec_file.write_text(json.dumps(spec))
    out = subprocess.run(
        [sys.executable, "-m", "bench.prompts", "load", str(spec_file)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--server-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    if (
        not 0 < args.duration <= 120
        or not 0 <= args.warmup <= 30
        or not 0 < args.concurrency <= 256
    ):
        raise SystemExit("bounded run: duration 0-120 s, warm-up 0-30 s, concurrency 1-256")
    password = secrets.token_urlsafe(16)
    with (
        tempfile.TemporaryDirectory(prefix="bench-prompts-") as tmp,
        scratch_database(args.server_url) as database_url,
        app_server(database_url, password, Path(tmp)) as base,
    ):
        workdir = Path(tmp)
        data = prepare(base, password)
        common = {
            "base": base,
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "duration": args.duration,
        }
        scenarios = [
            ("GET health-check", {"method": "GET", "path": HEALTH, "headers": {}}),
            (
                "POST prompts/compose",
                {
                    "method": "POST",
                    "path": f"{API}/prompts/compose",
                    "body": data["compose"],
                    "headers": data["headers"],
                },
            ),
            (
                "POST prompts/create-for-generation",
                {
                    "method": "POST",
                    "path": f"{API}/prompts/create-for-generation",
                    "body": data["create"],
                    "headers": data["headers"],
                },
            ),
        ]
        results = []
        for name, spec in scenarios:
            result = run_scenario({**common, **spec}, workdir)
            results.append((name, result))
            print(f"  measured {name}: {result['rps']:.0f} req/s", file=sys.stderr, flush=True)
    baseline = results[0][1]["rps"]
    print(
        f"\nPostgreSQL, 1 uvicorn process, {args.concurrency} connections, "
        f"{args.duration:g}s after {args.warmup:g}s warm-up, load from a separate process\n"
    )
    print(
        f"{'scenario':38} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs health':>10}"
    )
    for name, r in results:
        ratio = r["rps"] / baseline if baseline else float("nan")
        print(
            f"{name:38} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['errors']:7d} {ratio:10.2f}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "load":
        load_main(sys.argv[2])
    else:
        main()
