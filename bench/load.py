"""Load generator, run as its own process: `python -m bench.load --base URL --paths-file F`.

The file is a JSON list of requests: a path (a GET), or an object with `path` and optional
`method`, `headers` and a JSON `body`. Keeps `--concurrency` keep-alive connections busy for
`--warmup` seconds (not recorded), then for `--duration` seconds, cycling through the
requests; prints one JSON object with requests/s,
p50, p99, errors, its own CPU share and (with `--server-pid`, on Linux) the server's CPU time
per request. Engines, none needing root:
- `raw` (default): asyncio + httptools, a few microseconds per request. On a 2-core machine the
  generator shares the CPU with the servers, so it must be cheap: an httpx swarm measured here
  capped the bare baseline and reported the app at twice its real ratio.
- `httpx`: one AsyncClient per connection.
- `wrk`: when the binary is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from itertools import cycle
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import httpx


def server_cpu_seconds(pid: int | None) -> float | None:
    """CPU time used so far by process `pid` (Linux /proc); None where that is unavailable."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime are fields 14 and 15 of stat(5); the split above starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(
    engine: str,
    latencies: list[float],
    errors: int,
    duration: float,
    loader_cpu: float,
    server_cpu: float | None,
) -> dict[str, Any]:
    latencies.sort()
    requests = len(latencies)
    return {
        "engine": engine,
        "requests": requests,
        "errors": errors,
        "rps": requests / duration,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "loader_cpu": loader_cpu / duration,
        # Server CPU per request is steadier than requests/s on a machine shared with others.
        "server_cpu_ms": server_cpu / requests * 1000 if server_cpu and requests else None,
    }


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def of(cls, spec: str | dict[str, Any]) -> Request:
        if isinstance(spec, str):
            return cls(spec)
        headers = dict(spec.get("headers") or {})
        body = b""
        if "body" in spec:
            body = json.dumps(spec["body"]).encode()
            headers.setdefault("Content-Type", "application/json")
        return cls(spec["path"], spec.get("method", "GET"), tuple(headers.items()), body)

    def raw(self, netloc: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {netloc}", "User-Agent: bench"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body or self.method != "GET":
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def _httpx_run(
    base: str,
    requests: list[Request],
    concurrency: int,
    warmup: float,
    duration: float,
    server_pid: int | None,
) -> dict[str, Any]:
    # One client (one keep-alive connection) per worker: a shared httpx pool serialises its
    # users on its own lock and becomes the bottleneck instead of the server. The clients are
    # built before the clock starts and share one TLS context, whose creation is expensive.
    tls = ssl.create_default_context()
    limits = httpx.Limits(max_connections=1)
    clients = [
        httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0, verify=tls)
        for _ in range(concurrency)
    ]
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal errors
        # Each worker starts at a different path so concurrent requests hit different rows.
        start = offset % len(requests)
        todo = cycle(requests[start:] + requests[:start])
        async with client:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                try:
                    request = next(todo)
                    response = await client.request(
                        request.method,
                        request.path,
                        headers=dict(request.headers),
                        content=request.body or None,
                    )
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                done = time.perf_counter()
                if sent >= record_from:
                    if ok:
                        latencies.append(done - sent)
                    else:
                        errors += 1

    record_from = time.perf_counter() + warmup
    stop_at = record_from + duration

    async def cpu_at_record_start() -> tuple[float, float | None]:
        await asyncio.sleep(warmup)
        return time.process_time(), server_cpu_seconds(server_pid)

    cpu_start = asyncio.ensure_future(cpu_at_record_start())
    await asyncio.gather(*(worker(client, i) for i, client in enumerate(clients)))
    server_end = server_cpu_seconds(server_pid)
    loader_start, server_start = await cpu_start
    return summary(
        "httpx",
        latencies,
        errors,
        duration,
        time.process_time() - loader_start,
        server_end - server_start if server_end is not None and server_start is not None else None,
    )


class _RawConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending GETs back to back, parsed by httptools.

    Costs a few microseconds per request, so on a small machine the load generator takes far
    less CPU from the servers under test than httpx does.
    """

    def __init__(self, requests: list[bytes], offset: int, on_response: Any) -> None:
        self.requests = requests
        self.index = offset
        self.on_response = on_response
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.sent = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        self.index = (self.index + 1) % len(self.requests)
        self.sent = time.perf_counter()
        self.transport.write(self.requests[self.index])

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.on_response(self.sent, self.parser.get_status_code() == 200):
            self.send()
        elif self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _raw_run(
    base: str,
    requests: list[Request],
    concurrency: int,
    warmup: float,
    duration: float,
    server_pid: int | None,
) -> dict[str, Any]:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    raw = [request.raw(url.netloc) for request in requests]
    latencies: list[float] = []
    errors = 0
    record_from = time.perf_counter() + warmup
    stop_at = record_from + duration

    def on_response(sent: float, ok: bool) -> bool:
        nonlocal errors
        done = time.perf_counter()
        if sent >= record_from:
            if ok:
                latencies.append(done - sent)
            else:
                errors += 1
        return done < stop_at

    loop = asyncio.get_running_loop()
    connections: list[_RawConnection] = []
    for i in range(concurrency):
        _, protocol = await loop.create_connection(
            partial(_RawConnection, raw, i, on_response), host, port
        )
        connections.append(protocol)
    await asyncio.sleep(warmup)
    loader_start, server_start = time.process_time(), server_cpu_seconds(server_pid)
    await asyncio.gather(*(c.done for c in connections))
    server_end = server_cpu_seconds(server_pid)
    return summary(
        "raw",
        latencies,
        errors,
        duration,
        time.process_time() - loader_start,
        server_end - server_start if server_end is not None and server_start is not None else None,
    )


def _run(coro: Any) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return dict(asyncio.run(coro))
    return dict(uvloop.run(coro))


# wrk drives the requests round-robin from Lua and prints its own percentiles as JSON at the end.
_WRK_SCRIPT = """
local requests = {%s}
local counter = 0
request = function()
  counter = counter + 1
  local r = requests[(counter %% #requests) + 1]
  return wrk.format(r.method, r.path, r.headers, r.body)
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format('WRK_JSON {"requests": %%d, "errors": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, errors, summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""


def _lua(request: Request) -> str:
    headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in request.headers)
    body = json.dumps(request.body.decode()) if request.body else "nil"
    return (
        f"{{method = {json.dumps(request.method)}, path = {json.dumps(request.path)}, "
        f"headers = {{{headers}}}, body = {body}}}"
    )


def run_wrk(
    base: str,
    requests: list[Request],
    concurrency: int,
    warmup: float,
    duration: float,
    server_pid: int | None,
    threads: int,
) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk), use --engine httpx")
    script = _WRK_SCRIPT % ", ".join(_lua(r) for r in requests)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        common = [wrk, f"-t{threads}", f"-c{concurrency}", "-s", handle.name, base]
        if warmup > 0:
            subprocess.run(
                [*common[:1], f"-d{max(1, round(warmup))}s", *common[1:]],
                check=True,
                capture_output=True,
            )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_start = server_cpu_seconds(server_pid)
        out = subprocess.run(
            [*common[:1], f"-d{max(1, round(duration))}s", *common[1:]],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_end = server_cpu_seconds(server_pid)
    finally:
        Path(handle.name).unlink()
    match = re.search(r"WRK_JSON (\{.*\})", out)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    figures = json.loads(match.group(1))
    seconds = figures["duration_us"] / 1e6
    requests = figures["requests"]
    server_cpu = (
        server_end - server_start if server_end is not None and server_start is not None else None
    )
    return {
        "engine": "wrk",
        "requests": requests,
        "errors": figures["errors"],
        "rps": requests / seconds,
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "loader_cpu": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        / seconds,
        "server_cpu_ms": server_cpu / requests * 1000 if server_cpu and requests else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="http://host:port")
    parser.add_argument(
        "--paths-file", required=True, type=Path, help="JSON list of paths or request objects"
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--engine", choices=("raw", "httpx", "wrk"), default="raw")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--server-pid", type=int, help="report this process's CPU per request")
    args = parser.parse_args(argv)
    requests = [Request.of(spec) for spec in json.loads(args.paths_file.read_text())]
    common = (args.base, requests, args.concurrency, args.warmup, args.duration, args.server_pid)
    if args.engine == "wrk":
        result = run_wrk(*common, threads=args.wrk_threads)
    elif args.engine == "raw":
        result = _run(_raw_run(*common))
    else:
        result = _run(_httpx_run(*common))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
