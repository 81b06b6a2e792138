"""Load benchmark of the public Generation Models GET endpoints against a bare baseline.

`python -m bench.generation_models` (or `make bench`):

1. creates a PostgreSQL database of its own (dropped at the end);
2. starts the real app as `make run` does (`python -m app`: one uvicorn process, migrations
   and default seed at start) with `DATABASE_URL` pointing at it, and seeds ~50 generation
   models through the API as the first superuser;
3. starts a bare Starlette + asyncpg app (`bench/bare_app.py`) serving the same rows from the
   same table in the same JSON shape, under uvicorn too, and checks both answer identically;
4. for each scenario, drives each server from a separate load-generator process
   (`bench/load.py`; `--engine raw|httpx|wrk`) at 32 connections, with a warm-up, and prints
   requests/s, p50, p99, the servers' CPU time per request and the ratio to the bare handler.

On a machine shared with other work, requests/s swing from run to run; the CPU time each
server spends per request is the steadier figure to compare.

Figures are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

ROOT = Path(__file__).resolve().parents[1]
API = "/api/v1"
HEALTH = f"{API}/utils/health-check/"
ADMIN_EMAIL = "bench-admin@example.com"
PROVIDERS = (
    "local",
    "ai_core",
    "nano_banana_upscaler",
    "fal_shootify_refiner",
    "fal_standard",
    "freepik_magnific",
    "freepik_magnific_precision",
    "sartiq_ultimate_face_fixer",
    "sartiq_ultimate_garment_fixer",
    "sartiq_ultimate_refiner",
    "vertex",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(url: str) -> None:
    server, name = url.rsplit("/", 1)
    conn = await asyncpg.connect(asyncpg_dsn(server) + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def serve(
    name: str, cmd: list[str], env: dict[str, str], port: int, workdir: Path
) -> Iterator[Server]:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        wait_ready(server)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited at start:\n{server.log.read_text()[-4000:]}")
        try:
            if httpx.get(server.base + HEALTH, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{server.name} not ready after {timeout}s:\n{server.log.read_text()[-4000:]}")


def seed_models(base: str, password: str, total: int) -> None:
    """Fill the catalogue up to `total` rows through the API, one provider after another."""
    with httpx.Client(base_url=base, timeout=30.0) as client:
        token = client.post(
            f"{API}/login/access-token", data={"username": ADMIN_EMAIL, "password": password}
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        listing = client.get(f"{API}/generation-models/", params={"limit": 1})
        if listing.status_code != 200:
            raise SystemExit(f"listing failed: {listing.status_code} {listing.text}")
        have = listing.json()["count"]
        for i in range(have, total):
            provider = PROVIDERS[i % len(PROVIDERS)]
            body: dict[str, Any] = {
                "name": f"Bench model {i:03d} ({provider})",
                "icon": f"https://cdn.example.com/icons/{provider}.png",
                "provider": provider,
                "provider_config": {},
                "provider_capabilities": ["TEXT_TO_IMAGE", "SEED"],
                "fallback_provider": "local" if i % 3 == 0 else None,
                "tool_types": ["BASE_GENERATION"],
                "recommended": i % 7 == 0,
                "beta": i % 5 == 0,
                "max_output_width": 2048,
                "max_output_height": 2048,
                "max_size_pixels": 2048 * 2048,
            }
            r = client.post(f"{API}/generation-models/", json=body, headers=headers)
            if r.status_code != 200:
                raise SystemExit(f"seeding failed: {r.status_code} {r.text}")


def check_same_payloads(app: Server, bare: Server, paths: list[str]) -> None:
    """The comparison is only fair if both serve the same bytes' worth of the same rows."""
    for path in paths:
        a = httpx.get(app.base + path, timeout=10.0)
        b = httpx.get(bare.base + path, timeout=10.0)
        if a.status_code != 200 or b.status_code != 200 or a.json() != b.json():
            raise SystemExit(
                f"app and bare answers differ for {path}:\n{a.text[:600]}\n{b.text[:600]}"
            )


def run_load(
    server: Server, paths: list[str], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    paths_file = workdir / "paths.json"
    paths_file.write_text(json.dumps(paths))
    cmd = [
        sys.executable,
        "-m",
        "bench.load",
        "--base",
        server.base,
        "--server-pid",
        str(server.process.pid),
        "--paths-file",
        str(paths_file),
        "--concurrency",
        str(args.concurrency),
        "--warmup",
        str(args.warmup),
        "--duration",
        str(args.duration),
        "--engine",
        args.engine,
    ]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


def print_table(rows: list[tuple[str, str, dict[str, Any], float | None]]) -> None:
    header = (
        f"{'scenario':<34} {'server':<6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'srv CPU/req':>11} {'loader CPU':>10} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for scenario, server, r, ratio in rows:
        shown = f"{ratio:.2f}x" if ratio is not None else "1.00x"
        cpu = f"{r['server_cpu_ms']:.2f} ms" if r.get("server_cpu_ms") else "n/a"
        print(
            f"{scenario:<34} {server:<6} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f} {r['errors']:>6d} {cpu:>11} {r['loader_cpu']:>10.0%} {shown:>6}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
        help="server to create the bench database on (default: %(default)s)",
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds, not recorded")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--models", type=int, default=50, help="rows in the catalogue")
    parser.add_argument(
        "--engine",
        choices=("raw", "httpx", "wrk"),
        default="raw",
        help="load generator: raw (asyncio + httptools, default), httpx, or wrk if installed",
    )
    parser.add_argument(
        "--app-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the app process (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.engine == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed; use the default --engine httpx")

    workdir = Path(tempfile.mkdtemp(prefix="bench-genmodels-"))
    database_url = asyncio.run(create_database(args.postgres))
    password = secrets.token_urlsafe(16)
    base_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    app_port, bare_port = free_port(), free_port()
    app_env = base_env | {
        "DATABASE_URL": database_url,
        "DATA_DIR": str(workdir / "data"),
        "HOST": "127.0.0.1",
        "PORT": str(app_port),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "FIRST_SUPERUSER": ADMIN_EMAIL,
        "FIRST_SUPERUSER_PASSWORD": password,
    }
    for item in args.app_env:
        key, _, value = item.partition("=")
        app_env[key] = value
    bare_env = base_env | {"BENCH_DSN": asyncpg_dsn(database_url)}
    bare_cmd = [
        sys.executable, "-m", "uvicorn", "bench.bare_app:app",
        "--host", "127.0.0.1", "--port", str(bare_port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    try:
        with serve("app", [sys.executable, "-m", "app"], app_env, app_port, workdir) as app:
            seed_models(app.base, password, args.models)
            with serve("bare", bare_cmd, bare_env, bare_port, workdir) as bare:
                listing = httpx.get(
                    f"{app.base}{API}/generation-models/", params={"limit": 1000}
                ).json()
                ids = [row["id"] for row in listing["data"]]
                scenarios = {
                    "GET /generation-models/?limit=20": [f"{API}/generation-models/?limit=20"],
                    "GET /generation-models/{id}": [f"{API}/generation-models/{i}" for i in ids],
                }
                check_same_payloads(
                    app,
                    bare,
                    [
                        *scenarios["GET /generation-models/?limit=20"],
                        scenarios["GET /generation-models/{id}"][0],
                    ],
                )
                print(
                    f"{len(ids)} generation models, {args.concurrency} connections, "
                    f"{args.warmup:g}s warm-up + {args.duration:g}s per run, engine {args.engine}, "
                    f"{os.cpu_count()} CPUs\n",
                    flush=True,
                )
                rows: list[tuple[str, str, dict[str, Any], float | None]] = []
                for scenario, paths in scenarios.items():
                    baseline = run_load(bare, paths, args, workdir)
                    measured = run_load(app, paths, args, workdir)
                    rows.append((scenario, "bare", baseline, None))
                    rows.append((scenario, "app", measured, measured["rps"] / baseline["rps"]))
                print_table(rows)
    except BaseException:
        for log in sorted(workdir.glob("*.log")):
            print(f"--- tail of {log.name} ---\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        asyncio.run(drop_database(database_url))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
