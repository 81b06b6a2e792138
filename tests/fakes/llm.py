"""A fake LLM server speaking the OpenAI Chat Completions, Anthropic Messages and Ollama chat
protocols (provider-protocols.md section 4), with error, slow and malformed modes.

`FakeLLM.mode`:
- "ok": answers `reply(system, user_text, images)` (default: "LLM<backend>: <user text>");
- "error": 500 (OpenAI), 529 overloaded (Anthropic), 500 `{"error"}` (Ollama);
- "rate_limited": 429 in each protocol's error shape;
- "slow": sleeps `delay` seconds, then answers normally;
- "malformed": 200 with JSON lacking the answer fields;
- "not_json": 200 with an HTML body;
- "reasoning": OpenAI refuses `max_tokens` and a non-default `temperature` like o-series models.
Every request is recorded in `requests` as (path, headers, json body).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

OPENAI_KEY = "sk-test-openai"
ANTHROPIC_KEY = "sk-ant-test"

Reply = Callable[[str | None, str, int], str]


def _default_reply(backend: str) -> Reply:
    def reply(_system: str | None, user: str, _images: int) -> str:
        return f"LLM<{backend}>: {user}"

    return reply


def _text_and_images(content: Any) -> tuple[str, int]:
    if isinstance(content, str):
        return content, 0
    text, images = "", 0
    for block in content or []:
        if block.get("type") == "text":
            text += block.get("text", "")
        elif block.get("type") in ("image", "image_url"):
            images += 1
    return text, images


@dataclass
class FakeLLM:
    mode: str = "ok"
    delay: float = 2.0
    reply: Reply | None = None
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)

    def _answer(self, backend: str, system: str | None, user: str, images: int) -> str:
        return (self.reply or _default_reply(backend))(system, user, images)

    async def _common(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        body = await request.json()
        self.requests.append((request.url.path, dict(request.headers), body))
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "not_json":
            return body, Response("<html>oops</html>", media_type="text/html")
        return body, None

    async def openai(self, request: Request) -> Response:
        body, early = await self._common(request)
        if early:
            return early

        def error(
            status: int, message: str, type_: str, param: str | None = None, code: str | None = None
        ) -> Response:
            return JSONResponse(
                {"error": {"message": message, "type": type_, "param": param, "code": code}},
                status_code=status,
            )

        if request.headers.get("authorization") != f"Bearer {OPENAI_KEY}":
            return error(
                401, "Incorrect API key provided", "invalid_request_error", None, "invalid_api_key"
            )
        if self.mode == "error":
            return error(500, "The server had an error", "server_error")
        if self.mode == "rate_limited":
            return error(429, "Rate limit reached", "requests", None, "rate_limit_exceeded")
        if self.mode == "reasoning":
            if "max_tokens" in body:
                return error(
                    400,
                    "Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead.",
                    "invalid_request_error",
                    "max_tokens",
                    "unsupported_parameter",
                )
            if body.get("temperature", 1) != 1:
                return error(
                    400,
                    "Unsupported value: 'temperature'",
                    "invalid_request_error",
                    "temperature",
                    "unsupported_value",
                )
        if self.mode == "malformed":
            return JSONResponse({"id": "chatcmpl-1", "object": "chat.completion", "choices": []})
        messages = body["messages"]
        system = next((m["content"] for m in messages if m["role"] == "system"), None)
        user, images = _text_and_images(messages[-1]["content"])
        text = self._answer("openai", system, user, images)
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    async def anthropic(self, request: Request) -> Response:
        body, early = await self._common(request)
        if early:
            return early

        def error(status: int, type_: str, message: str) -> Response:
            return JSONResponse(
                {"type": "error", "error": {"type": type_, "message": message}}, status_code=status
            )

        if request.headers.get("x-api-key") != ANTHROPIC_KEY:
            return error(401, "authentication_error", "invalid x-api-key")
        if request.headers.get("anthropic-version") != "2023-06-01":
            return error(400, "invalid_request_error", "anthropic-version header is required")
        if "max_tokens" not in body:
            return error(400, "invalid_request_error", "max_tokens: Field required")
        if not 0 <= body.get("temperature", 1) <= 1:
            return error(400, "invalid_request_error", "temperature: must be between 0 and 1")
        if self.mode == "error":
            return error(529, "overloaded_error", "Overloaded")
        if self.mode == "rate_limited":
            return error(429, "rate_limit_error", "Rate limited")
        if self.mode == "malformed":
            return JSONResponse({"id": "msg_1", "type": "message", "role": "assistant"})
        user, images = _text_and_images(body["messages"][-1]["content"])
        text = self._answer("anthropic", body.get("system"), user, images)
        return JSONResponse(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 10},
            }
        )

    async def ollama(self, request: Request) -> Response:
        body, early = await self._common(request)
        if early:
            return early
        if body.get("model") == "missing":
            return JSONResponse({"error": "model 'missing' not found"}, status_code=404)
        if self.mode == "error":
            return JSONResponse({"error": "llama runner process has terminated"}, status_code=500)
        if self.mode == "malformed":
            return JSONResponse({"model": body["model"], "done": True})
        messages = body["messages"]
        system = next((m["content"] for m in messages if m["role"] == "system"), None)
        user = messages[-1]
        text = self._answer("ollama", system, user["content"], len(user.get("images", [])))
        reply = {
            "model": body["model"],
            "created_at": "2026-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": text},
            "done": True,
            "done_reason": "stop",
            "total_duration": 1,
            "load_duration": 1,
            "prompt_eval_count": 1,
            "eval_count": 1,
            "eval_duration": 1,
        }
        if body.get("stream", True):
            # What Ollama does without `stream: false`: NDJSON chunks.
            chunks = [
                {**reply, "message": {"role": "assistant", "content": w}, "done": False}
                for w in text.split()
            ]
            return Response(
                "\n".join(json.dumps(c) for c in chunks), media_type="application/x-ndjson"
            )
        return JSONResponse(reply)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.openai, methods=["POST"]),
                Route("/v1/messages", self.anthropic, methods=["POST"]),
                Route("/api/chat", self.ollama, methods=["POST"]),
            ]
        )
