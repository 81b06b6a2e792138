"""The one interface every image provider implements, and the data it exchanges.

A provider turns a `ProviderRequest` into images. The pipeline calls `run()`, which is
`submit()` then `result()`; when the surrounding task is cancelled, `run()` asks the
provider to `cancel()` the remote job where the protocol allows it.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from app.providers.enums import ProviderCapability, ProviderType


class ErrorCategory(StrEnum):
    PROVIDER_ERROR = "provider_error"  # the provider answered with an error
    TIMEOUT = "timeout"  # no answer in time
    NO_IMAGE = "no_image"  # answered, but without an image (refusal, safety block, …)
    INVALID_INPUT = "invalid_input"  # the provider refused our input; retrying will not help
    RATE_LIMITED = "rate_limited"
    MALFORMED_RESPONSE = "malformed_response"
    CONFIGURATION = "configuration"  # missing credentials, unknown model, …
    CANCELLED = "cancelled"
    STORAGE = "storage"  # the result could not be stored
    INTERNAL = "internal"


class ProviderError(Exception):
    """Any failure of a provider; every one of them makes the pipeline try the fallback."""

    def __init__(
        self, message: str, category: ErrorCategory = ErrorCategory.PROVIDER_ERROR
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = category


@dataclass(frozen=True)
class LoraSpec:
    kind: str  # subject | product | product2 | style
    path: str
    scale: float
    trigger: str | None = None


@dataclass(frozen=True)
class InputImage:
    data: bytes
    mime_type: str
    # base (the image to edit/refine), product, product2, reference, pose, subject
    role: str = "reference"


@dataclass(frozen=True)
class OutputImage:
    data: bytes
    mime_type: str
    width: int
    height: int
    seed: int | None = None


@dataclass
class ProviderRequest:
    task: ProviderCapability
    prompt: str = ""
    negative_prompt: str | None = None
    width: int = 1024
    height: int = 1024
    seed: int | None = None
    num_images: int = 1
    loras: list[LoraSpec] = field(default_factory=list)
    images: list[InputImage] = field(default_factory=list)
    scale_factor: float | None = None
    target_width: int | None = None
    target_height: int | None = None
    # Step-specific inputs (background colour, garment box, product family, …).
    options: dict[str, Any] = field(default_factory=dict)

    def image(self, role: str) -> InputImage | None:
        return next((image for image in self.images if image.role == role), None)


@dataclass
class ProviderResult:
    images: list[OutputImage]
    # Anything worth recording: remote request id, consistency scores, skipped metrics, …
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProviderHandle:
    """What `submit()` returns: enough to poll, fetch and cancel the remote job."""

    request: ProviderRequest
    remote_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[float, str | None], Awaitable[None]]


async def _no_progress(_fraction: float, _message: str | None) -> None:
    return None


ConfigT = TypeVar("ConfigT", bound=BaseModel)


class ImageProvider(ABC, Generic[ConfigT]):
    provider_type: ClassVar[ProviderType]
    capabilities: ClassVar[frozenset[ProviderCapability]]

    def __init__(self, config: ConfigT) -> None:
        self.config = config

    def supports(self, task: ProviderCapability) -> bool:
        return task in self.capabilities

    @abstractmethod
    async def submit(self, request: ProviderRequest) -> ProviderHandle: ...

    @abstractmethod
    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult: ...

    async def cancel(self, handle: ProviderHandle) -> None:
        """Ask the remote side to stop; providers without a cancel protocol do nothing."""
        return None

    async def run(
        self, request: ProviderRequest, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        handle = await self.submit(request)
        try:
            return await self.result(handle, on_progress)
        except asyncio.CancelledError:
            # Shielded: the cancel request must go out even though we are being cancelled.
            await asyncio.shield(self.cancel(handle))
            raise


class TextProvider(ABC):
    """Text generation (LLMs), used by the prompt builders."""

    provider_type: ClassVar[ProviderType] = ProviderType.AI_CORE

    @abstractmethod
    async def complete(
        self,
        *,
        system: str | None,
        prompt: str,
        images: list[InputImage] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> str: ...
