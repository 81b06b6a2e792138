"""One error hierarchy for services; one handler turns it into HTTP responses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError


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


def _json_safe(value: Any) -> Any:
    """Errors echo the input, which may hold what JSON accepts in but cannot carry back out:
    NaN and Infinity (echoed as strings) and lone surrogates such as "\\ud800" (echoed
    escaped), rather than failing to encode the 422."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode(errors="backslashreplace").decode()
        return value
    if isinstance(value, dict):
        return {_json_safe(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _validation_response(errors: Sequence[Any]) -> JSONResponse:
    detail = jsonable_encoder(_json_safe(list(errors)), custom_encoder={ValueError: str})
    return JSONResponse({"detail": detail}, status_code=422)


# asyncpg's client-side error for an argument it cannot encode (an integer out of range);
# the package exports only the server-side `DataError` (SQLSTATE class 22) by that name.
_ARGUMENT_ERROR = asyncpg.exceptions._base.DataError


def _unstorable(exc: Exception) -> str | None:
    """Why PostgreSQL refused a value (too long, out of range, a NUL character), or None when
    `exc` is not such an error. Raised by asyncpg directly or wrapped by SQLAlchemy."""
    for error in (exc, getattr(getattr(exc, "orig", None), "__cause__", None)):
        if isinstance(error, asyncpg.exceptions.DataError | _ARGUMENT_ERROR):
            return str(error)
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        if isinstance(exc, InvalidInput):
            return _validation_response(exc.errors)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    async def handle_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation_response(exc.errors())

    async def handle_database(_request: Request, exc: Exception) -> JSONResponse:
        # Inputs are validated before they reach the database; this is the net under what
        # validation missed, so that a value PostgreSQL cannot store is the client's 422,
        # not a 500 (the request's transaction has been rolled back by then).
        reason = _unstorable(exc)
        if reason is None:
            raise exc
        return _validation_response(
            [{"type": "value_error", "loc": ["body"], "msg": f"Value cannot be stored: {reason}"}]
        )

    app.add_exception_handler(AppError, handle)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(DBAPIError, handle_database)
    app.add_exception_handler(asyncpg.exceptions.DataError, handle_database)
    app.add_exception_handler(_ARGUMENT_ERROR, handle_database)
