"""Shared helpers for generation tests: tiny images, polling until a generation settles."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from typing import Any

import httpx
from PIL import Image

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def png_bytes(
    colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (24, 32)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (24, 32)) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(colour, size)).decode()


async def wait_for(
    client: httpx.AsyncClient,
    generation_id: str,
    headers: dict[str, str],
    *,
    statuses: set[str] = TERMINAL,
    timeout: float = 15.0,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    # Quick at first, then slower: a long wait stays inside the route group's rate limit.
    interval = 0.02
    while True:
        r = await client.get(f"/api/v1/generations/{generation_id}", headers=headers, params=params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"generation stuck in {body['status']}: {body}")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 0.25)


async def wait_prediction(
    client: httpx.AsyncClient,
    prediction_id: str,
    headers: dict[str, str],
    status: str,
    timeout: float = 10.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"/api/v1/predictions/{prediction_id}", headers=headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"prediction stuck in {body['status']}")
        await asyncio.sleep(0.02)
