"""A fake Gemini / Vertex AI `generateContent` endpoint (any version prefix, both auth modes).

Replies with text, with an image (by default the first input image scaled 2x, or a painted
one), or misbehaves per `FakeControl` and `reply`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.common import FakeControl, Recorded
from tests.fakes.images import png, resized

GEMINI_KEY = "gemini-key-DO-NOT-LOG"
VERSIONS = ("v1", "v1beta", "v1beta1", "v1alpha")


def _scaled_input(inputs: list[bytes]) -> bytes:
    return resized(inputs[0], 2) if inputs else png(40, 56)


@dataclass
class FakeGemini:
    control: FakeControl = field(default_factory=FakeControl)
    # image | text | no_image (finishReason) | blocked (promptFeedback) | text_only
    reply: str = "image"
    text: str = "A studio photo of a model."
    make_image: Callable[[list[bytes]], bytes] = _scaled_input
    # Per-call image makers, consumed first (e.g. inconsistent then consistent).
    image_queue: list[Callable[[list[bytes]], bytes]] = field(default_factory=list)
    base_url: str = ""

    def reset(self) -> None:
        self.control = FakeControl()
        self.reply = "image"
        self.text = "A studio photo of a model."
        self.make_image = _scaled_input
        self.image_queue = []

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["POST"])])

    @property
    def generate_calls(self) -> list[Recorded]:
        return self.control.calls(":generateContent", "POST")

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        self.control.requests.append(
            Recorded("POST", path, dict(request.headers), dict(request.query_params), body)
        )
        segments = path.strip("/").split("/")
        if (
            not path.endswith(":generateContent")
            or segments[0] not in VERSIONS
            or "models" not in segments
        ):
            return _error(404, "NOT_FOUND", f"unknown method {path}")
        vertex = "publishers" in segments
        authorized = (
            request.headers.get("authorization", "").startswith("Bearer ")
            if vertex and "projects" in segments
            else request.headers.get("x-goog-api-key") == GEMINI_KEY
        )
        if not authorized:
            return _error(401, "UNAUTHENTICATED", "API key not valid.")
        control = self.control
        if control.take_flaky("generate", "generate"):
            status = "RESOURCE_EXHAUSTED" if control.flaky_status == 429 else "UNAVAILABLE"
            return _error(
                control.flaky_status, status, "Resource has been exhausted (e.g. check quota)."
            )
        if control.mode == "hang":
            await control.hang()
            return _error(504, "DEADLINE_EXCEEDED", "late")
        if control.mode == "malformed":
            return PlainTextResponse('{"candidates": [', media_type="application/json")
        if control.mode == "error":
            return _error(400, "INVALID_ARGUMENT", "Unsupported aspect ratio: 7:1")
        inputs = [
            decode_b64(part["inlineData"]["data"])
            for content in (body or {}).get("contents", [])
            for part in content.get("parts", [])
            if "inlineData" in part
        ]
        return JSONResponse(self._answer(inputs))

    def _answer(self, inputs: list[bytes]) -> dict[str, Any]:
        usage = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
        if self.reply == "blocked":
            return {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage}
        if self.reply == "no_image":
            return {
                "candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}],
                "usageMetadata": usage,
            }
        parts: list[dict[str, Any]] = [{"text": self.text}]
        if self.reply == "image":
            maker = self.image_queue.pop(0) if self.image_queue else self.make_image
            data = base64.b64encode(maker(inputs)).decode()
            parts.append({"inlineData": {"mimeType": "image/png", "data": data}})
        return {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": usage,
            "modelVersion": "fake",
            "responseId": "r1",
        }


def decode_b64(data: str) -> bytes:
    """The SDK sends URL-safe base64, possibly unpadded."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _error(code: int, status: str, message: str) -> Response:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, status_code=code
    )
