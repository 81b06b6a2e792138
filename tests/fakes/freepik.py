"""A fake Freepik/Magnific upscaler API: task creation, polling, result files."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.common import FakeControl, Recorded
from tests.fakes.images import resized

FREEPIK_KEY = "freepik-secret-DO-NOT-LOG"
ENDPOINTS = ("image-upscaler", "image-upscaler-precision")
RANGES = {
    "image-upscaler": {
        "creativity": (-10, 10),
        "hdr": (-10, 10),
        "resemblance": (-10, 10),
        "fractality": (-10, 10),
    },
    "image-upscaler-precision": {
        "sharpen": (0, 100),
        "smart_grain": (0, 100),
        "ultra_detail": (0, 100),
    },
}


@dataclass
class FreepikTask:
    endpoint: str
    body: dict[str, Any]
    polls: int = 0


@dataclass
class FakeFreepik:
    control: FakeControl = field(default_factory=FakeControl)
    tasks: dict[str, FreepikTask] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    base_url: str = ""
    key_header: str = "x-freepik-api-key"

    def reset(self) -> None:
        self.control = FakeControl()
        self.tasks.clear()
        self.files.clear()
        self.key_header = "x-freepik-api-key"

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST"])])

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        raw = await request.body()
        try:
            body: Any = await request.json() if raw else None
        except ValueError:
            body = None
        self.control.requests.append(
            Recorded(request.method, path, dict(request.headers), dict(request.query_params), body)
        )
        if path.startswith("/files/"):
            data = self.files.get(path.removeprefix("/files/"))
            return Response(data, media_type="image/png") if data else PlainTextResponse("", 404)
        if request.headers.get(self.key_header) != FREEPIK_KEY:
            return JSONResponse({"message": "Invalid API key"}, status_code=401)
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[:2] != ["v1", "ai"] or parts[2] not in ENDPOINTS:
            return JSONResponse({"message": "Not found"}, status_code=404)
        endpoint = parts[2]
        step = "submit" if request.method == "POST" else "poll"
        control = self.control
        if control.take_flaky(step, "submit"):
            return JSONResponse(
                {"message": "Service Unavailable. Please try again later."},
                status_code=control.flaky_status,
            )
        if control.mode == "hang" and control.applies(step, "submit"):
            await control.hang()
            return JSONResponse({"message": "late"}, status_code=504)
        if control.mode == "malformed" and control.applies(step, "submit"):
            return PlainTextResponse("<html>gateway</html>", media_type="application/json")
        if request.method == "POST" and len(parts) == 3:
            return self._create(endpoint, body if isinstance(body, dict) else {})
        if request.method == "GET" and len(parts) == 4:
            return self._poll(endpoint, parts[3])
        return JSONResponse({"message": "Not found"}, status_code=404)

    def _create(self, endpoint: str, body: dict[str, Any]) -> Response:
        invalid = [
            {"name": name, "reason": f"must be between {low} and {high}"}
            for name, (low, high) in RANGES[endpoint].items()
            if name in body and not low <= body[name] <= high
        ]
        try:
            base64.b64decode(body.get("image", ""), validate=True)
        except (binascii.Error, ValueError):
            invalid.append({"name": "image", "reason": "must be base64"})
        if not body.get("image"):
            invalid.append({"name": "image", "reason": "is required"})
        if self.control.mode == "error":
            invalid.append({"name": "image", "reason": "image too large"})
        if invalid:
            return JSONResponse(
                {"message": "Your request parameters didn't validate.", "invalid_params": invalid},
                status_code=400,
                media_type="application/problem+json",
            )
        task_id = str(uuid.uuid4())
        self.tasks[task_id] = FreepikTask(endpoint, body)
        return JSONResponse({"data": {"task_id": task_id, "status": "CREATED", "generated": []}})

    def _poll(self, endpoint: str, task_id: str) -> Response:
        task = self.tasks.get(task_id)
        if task is None or task.endpoint != endpoint:
            return JSONResponse({"message": "Not found"}, status_code=404)
        task.polls += 1
        done = self.control.polls_before_done
        if done < 0 or task.polls <= done:
            return JSONResponse(
                {"data": {"task_id": task_id, "status": "IN_PROGRESS", "generated": []}}
            )
        if self.control.mode == "fail":
            return JSONResponse({"data": {"task_id": task_id, "status": "FAILED", "generated": []}})
        factor = int(str(task.body.get("scale_factor", "2x")).rstrip("x"))
        self.files[f"{task_id}.png"] = resized(base64.b64decode(task.body["image"]), factor)
        return JSONResponse(
            {
                "data": {
                    "task_id": task_id,
                    "status": "COMPLETED",
                    "generated": [f"{self.base_url}/files/{task_id}.png"],
                }
            }
        )
