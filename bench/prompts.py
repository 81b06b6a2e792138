"""Benchmark of the prompt endpoints against the health check, measured in the same run.

`python -m bench.prompts [--duration 8 --warmup 2 --concurrency 32 --engine raw]`:

1. creates a PostgreSQL database of its own (dropped at the end; `--server-url` to choose);
2. starts the app as `make run` does (`python -m app`: one uvicorn process on loopback,
   migrations and seeding at start) pointed at it;
3. creates a user and a small catalogue through the API (subject, two products, style,
   shooting look; the standard shot types are seeded);
4. for each scenario, drives the server from a separate load-generator process
   (`bench/load.py`, the cheap raw-socket engine by default, as `bench.generation_models`)
   with a warm-up, and prints requests/s, p50, p99, the server's CPU time per request, and
   the ratios to the health check of throughput and of CPU per request.

With a loader that cannot saturate the health check (an httpx swarm on 2 cores), the
throughput ratio flatters the prompt endpoints; the CPU ratio does not depend on the loader.
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
def app_server(
    database_url: str, password: str, workdir: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
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
        # so every request is still counted but 429s are not what gets measured.
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
        yield base, process
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


def run_scenario(
    base: str, pid: int, request: dict[str, Any], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    requests_file = workdir / "requests.json"
    requests_file.write_text(json.dumps([request]))
    cmd = [
        sys.executable, "-m", "bench.load", "--base", base, "--server-pid", str(pid),
        "--paths-file", str(requests_file), "--concurrency", str(args.concurrency),
        "--warmup", str(args.warmup), "--duration", str(args.duration), "--engine", args.engine,
    ]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


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
    parser.add_argument(
        "--engine",
        choices=("raw", "httpx", "wrk"),
        default="raw",
        help="load generator (bench/load.py): raw asyncio + httptools (default), httpx, wrk",
    )
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
        app_server(database_url, password, Path(tmp)) as (base, process),
    ):
        workdir = Path(tmp)
        data = prepare(base, password)
        scenarios = [
            ("GET health-check", {"path": HEALTH}),
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
        for name, request in scenarios:
            result = run_scenario(base, process.pid, request, args, workdir)
            results.append((name, result))
            print(f"  measured {name}: {result['rps']:.0f} req/s", file=sys.stderr, flush=True)
    health = results[0][1]
    print(
        f"\nPostgreSQL, 1 uvicorn process, {args.concurrency} connections, "
        f"{args.duration:g}s after {args.warmup:g}s warm-up, {args.engine} load generator "
        f"in a separate process, {os.cpu_count()} CPUs\n"
    )
    print(
        f"{'scenario':36} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'srv CPU/req':>11} {'loader CPU':>10} {'req/s vs health':>15} {'CPU vs health':>13}"
    )
    for name, r in results:
        cpu = r.get("server_cpu_ms")
        cpu_ratio = health["server_cpu_ms"] / cpu if cpu and health.get("server_cpu_ms") else None
        print(
            f"{name:36} {r['rps']:7.0f} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['errors']:6d} "
            f"{f'{cpu:.2f} ms' if cpu else 'n/a':>11} {r['loader_cpu']:>10.0%} "
            f"{r['rps'] / health['rps']:>15.2f} "
            f"{f'{cpu_ratio:.2f}' if cpu_ratio is not None else 'n/a':>13}"
        )


if __name__ == "__main__":
    main()
