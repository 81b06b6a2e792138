"""Fake provider servers on loopback ports and settings pointing the clients at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.core.config import Settings
from tests.conftest import make_settings
from tests.fakes.fal import FAL_KEY, FakeFal
from tests.fakes.freepik import FREEPIK_KEY, FakeFreepik
from tests.fakes.gemini import GEMINI_KEY, FakeGemini
from tests.fakes.server import serve

SettingsFactory = Callable[..., Settings]

# Fast polling and retries, short request timeouts: a hang costs a fraction of a second.
FAST = {
    "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
    "PROVIDER_REQUEST_TIMEOUT_SECONDS": 0.5,
    "PROVIDER_JOB_TIMEOUT_SECONDS": 5.0,
    "PROVIDER_POLL_INTERVAL_SECONDS": 0.01,
    "PROVIDER_POLL_MAX_INTERVAL_SECONDS": 0.02,
    "PROVIDER_RETRY_ATTEMPTS": 3,
    "PROVIDER_RETRY_BASE_DELAY_SECONDS": 0.01,
    "PROVIDER_RETRY_MAX_DELAY_SECONDS": 0.02,
    "LLM_TIMEOUT_SECONDS": 0.5,
}


@pytest.fixture
def provider_settings() -> SettingsFactory:
    def factory(**overrides: Any) -> Settings:
        return make_settings("sqlite+aiosqlite:///:memory:", **{**FAST, **overrides})

    return factory


@pytest.fixture(scope="session")
def _fal_server() -> Iterator[FakeFal]:
    fake = FakeFal()
    with serve(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def fake_fal(_fal_server: FakeFal) -> Iterator[FakeFal]:
    """The shared fake fal host, reset to well-behaved for each test."""
    _fal_server.reset()
    try:
        yield _fal_server
    finally:
        _fal_server.control.released.set()  # let any hanging handler finish


@pytest.fixture
def fal_settings(fake_fal: FakeFal, provider_settings: SettingsFactory) -> Settings:
    return provider_settings(FAL_KEY=FAL_KEY, FAL_QUEUE_URL=fake_fal.base_url)


@pytest.fixture(scope="session")
def _freepik_server() -> Iterator[FakeFreepik]:
    fake = FakeFreepik()
    with serve(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def fake_freepik(_freepik_server: FakeFreepik) -> Iterator[FakeFreepik]:
    _freepik_server.reset()
    try:
        yield _freepik_server
    finally:
        _freepik_server.control.released.set()


@pytest.fixture
def freepik_settings(fake_freepik: FakeFreepik, provider_settings: SettingsFactory) -> Settings:
    return provider_settings(FREEPIK_API_KEY=FREEPIK_KEY, FREEPIK_BASE_URL=fake_freepik.base_url)


@pytest.fixture(scope="session")
def _gemini_server() -> Iterator[FakeGemini]:
    fake = FakeGemini()
    with serve(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def fake_gemini(_gemini_server: FakeGemini) -> Iterator[FakeGemini]:
    _gemini_server.reset()
    try:
        yield _gemini_server
    finally:
        _gemini_server.control.released.set()


@pytest.fixture
def gemini_settings(fake_gemini: FakeGemini, provider_settings: SettingsFactory) -> Settings:
    return provider_settings(GEMINI_API_KEY=GEMINI_KEY, GEMINI_BASE_URL=fake_gemini.base_url)
