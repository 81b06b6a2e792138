"""A fake fal.ai queue host: submit, status, result, cancel, plus the CDN files it links to.

Answers the way fal's queue does (absolute URLs on its own host; `logs`, `queue_position` and
`metrics` always present) and misbehaves on request through `FakeControl`.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.common import FakeControl, Recorded
from tests.fakes.images import png

FAL_KEY = "fal-key-id:fal-key-secret-DO-NOT-LOG"
NAMESPACES = ("workflows", "comfy")


@dataclass
class FalJob:
    app: str
    input: dict[str, Any]
    polls: int = 0
    cancelled: bool = False


@dataclass
class FakeFal:
    control: FakeControl = field(default_factory=FakeControl)
    jobs: dict[str, FalJob] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    base_url: str = ""

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{path:path}", self.handle, methods=["GET", "POST", "PUT"])]
        )

    def reset(self) -> None:
        self.control = FakeControl()
        self.jobs.clear()
        self.files.clear()

    @property
    def cancelled(self) -> list[str]:
        return [job_id for job_id, job in self.jobs.items() if job.cancelled]

    async def handle(self, request: Request) -> Response:
        path = request.url.path.strip("/")
        raw = await request.body()
        try:
            body: Any = await request.json() if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.control.requests.append(
            Recorded(
                request.method, "/" + path, dict(request.headers), dict(request.query_params), body
            )
        )
        if path.startswith("files/"):
            return self._file(path)
        if request.headers.get("authorization") != f"Key {FAL_KEY}":
            return JSONResponse({"detail": "Unauthorized"}, status_code=401)
        parts = path.split("/")
        if "requests" in parts:
            index = parts.index("requests")
            app, rest = "/".join(parts[:index]), parts[index + 1 :]
            if request.method == "PUT" and len(rest) == 2 and rest[1] == "cancel":
                return self._cancel(rest[0])
            if request.method == "GET" and len(rest) == 2 and rest[1] == "status":
                return await self._status(app, rest[0], request)
            if request.method == "GET" and len(rest) == 1:
                return await self._result(rest[0])
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        if request.method == "POST":
            return await self._submit(parts, body)
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    async def _misbehave(self, step: str, default_step: str) -> Response | None:
        control = self.control
        if control.take_flaky(step, "submit"):
            return JSONResponse(
                {"detail": "Service temporarily unavailable nginx"},
                status_code=control.flaky_status,
                headers={"retry-after": "0"},
            )
        if control.mode == "hang" and control.applies(step, default_step):
            await control.hang()
            return PlainTextResponse("too late", status_code=504)
        if control.mode == "malformed" and control.applies(step, default_step):
            return PlainTextResponse('{"status": "IN_QUEUE", ', media_type="application/json")
        return None

    async def _submit(self, parts: list[str], body: Any) -> Response:
        if (answer := await self._misbehave("submit", "submit")) is not None:
            return answer
        if self.control.mode == "error" and self.control.applies("submit", "submit"):
            return JSONResponse(
                {
                    "detail": [
                        {
                            "loc": ["body", "image_size"],
                            "msg": "image_size is not supported by this app",
                            "type": "value_error",
                        }
                    ]
                },
                status_code=422,
            )
        owner_len = 3 if parts[0] in NAMESPACES else 2
        app = "/".join(parts[:owner_len])
        job_id = str(uuid.uuid4())
        self.jobs[job_id] = FalJob(app=app, input=body if isinstance(body, dict) else {})
        base = f"{self.base_url}/{app}/requests/{job_id}"
        return JSONResponse(
            {
                "status": "IN_QUEUE",
                "request_id": job_id,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
                "logs": None,
                "metrics": {},
                "queue_position": 0,
            }
        )

    async def _status(self, app: str, job_id: str, request: Request) -> Response:
        if (answer := await self._misbehave("status", "status")) is not None:
            return answer
        job = self.jobs.get(job_id)
        if job is None or job.app != app:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        job.polls += 1
        done_after = self.control.polls_before_done
        if job.cancelled:
            return JSONResponse(
                {"status": "COMPLETED", "logs": [], "metrics": {}, "error": "Request cancelled"}
            )
        if done_after < 0 or job.polls <= done_after:
            if job.polls == 1:
                return JSONResponse(
                    {"status": "IN_QUEUE", "queue_position": 2, "logs": None, "metrics": {}},
                    status_code=202,
                )
            log = {"message": "step 10/28", "level": "INFO", "source": "user", "timestamp": "t"}
            return JSONResponse(
                {"status": "IN_PROGRESS", "logs": [log], "queue_position": None, "metrics": {}},
                status_code=202,
            )
        status: dict[str, Any] = {
            "status": "COMPLETED",
            "logs": [],
            "queue_position": None,
            "metrics": {"inference_time": 0.5},
        }
        if self.control.mode == "fail":
            status.update(error="Invalid status code: 422", error_type="validation_error")
        return JSONResponse(status)

    async def _result(self, job_id: str) -> Response:
        if (answer := await self._misbehave("result", "result")) is not None:
            return answer
        job = self.jobs.get(job_id)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if self.control.mode == "fail":
            return JSONResponse(
                {
                    "detail": [
                        {
                            "loc": ["body", "loras", 0, "path"],
                            "msg": "LoRA not found",
                            "type": "value_error",
                        }
                    ]
                },
                status_code=422,
            )
        if self.control.mode == "no_image":
            return JSONResponse({"images": [], "seed": 1})
        images = []
        for n in range(int(job.input.get("num_images", 1))):
            data = _output_for(job.input)
            name = f"{job_id}/{n}.png"
            self.files[name] = data
            images.append(
                {
                    "url": f"{self.base_url}/files/{name}",
                    "content_type": "image/png",
                    "file_name": f"{n}.png",
                }
            )
        return JSONResponse(
            {
                "images": images,
                "seed": job.input.get("seed", 42),
                "timings": {"inference": 0.5},
                "has_nsfw_concepts": [False] * len(images),
                "prompt": job.input.get("prompt"),
            }
        )

    def _cancel(self, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        job.cancelled = True
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    def _file(self, path: str) -> Response:
        data = self.files.get(path.removeprefix("files/"))
        if data is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(data, media_type="image/png")


def _output_for(arguments: dict[str, Any]) -> bytes:
    """Refiners echo their input image; generators paint a picture of the requested size."""
    image_url = arguments.get("image_url")
    if isinstance(image_url, str) and image_url.startswith("data:"):
        return base64.b64decode(image_url.split(",", 1)[1])
    size = arguments.get("image_size") or {}
    return png(int(size.get("width", 48)), int(size.get("height", 64)))
