"""One error hierarchy for services; one handler turns it into HTTP responses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import ValidationError


class AppError(Exception):
    status_code = 400
    detail = "Bad request"

    def __init__(self, detail: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail
        self.headers = headers


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401
    detail = "Could not validate credentials"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status_code = 403
    detail = "Not enough permissions"


class NotFound(AppError):
    status_code = 404
    detail = "Not found"


class Conflict(AppError):
    status_code = 409
    detail = "Already exists"


class InvalidInput(AppError):
    """A 422 in FastAPI's `HTTPValidationError` shape, for checks that need the database."""

    status_code = 422

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        super().__init__("Validation error")
        self.errors = list(errors)

    @classmethod
    def field(cls, loc: Sequence[str | int], msg: str, input_: Any = None) -> InvalidInput:
        return cls([{"type": "value_error", "loc": list(loc), "msg": msg, "input": input_}])

    @classmethod
    def from_validation_error(
        cls, exc: ValidationError, prefix: Sequence[str | int]
    ) -> InvalidInput:
        errors = []
        for error in exc.errors(include_url=False):
            item = dict(error)
            item["loc"] = [*prefix, *error["loc"]]
            item.pop("ctx", None) if not error.get("ctx") else None
            errors.append(item)
        return cls(errors)


def install_error_handlers(app: FastAPI) -> None:
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        if isinstance(exc, InvalidInput):
            content: dict[str, Any] = {
                "detail": jsonable_encoder(exc.errors, custom_encoder={ValueError: str})
            }
        else:
            content = {"detail": exc.detail}
        return JSONResponse(content, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(AppError, handle)
