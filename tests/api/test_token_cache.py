"""Verified tokens are remembered, but never past their expiry nor under another key."""

import time
from datetime import timedelta

import pytest

from app.core import security

KEY = "k" * 32


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = security.create_access_token("someone", timedelta(seconds=60), KEY, None)
    assert security.decode_access_token(token, KEY).subject == "someone"
    assert security.decode_access_token(token, KEY).subject == "someone"
    now = time.time()
    monkeypatch.setattr(security.time, "time", lambda: now + 120)

    def verify_at_that_time(token: str, key: str) -> security.AccessToken:
        raise security.InvalidTokenError("Signature has expired.")

    # The signature library reads the real clock; what matters is that it is asked again.
    monkeypatch.setattr(security, "_verify_access_token", verify_at_that_time)
    with pytest.raises(security.InvalidTokenError):
        security.decode_access_token(token, KEY)


def test_a_remembered_token_is_refused_under_another_key() -> None:
    token = security.create_access_token("someone", timedelta(minutes=5), KEY, None)
    assert security.decode_access_token(token, KEY).subject == "someone"
    with pytest.raises(security.InvalidTokenError):
        security.decode_access_token(token, "x" * 32)


def test_a_tampered_token_is_refused() -> None:
    token = security.create_access_token("someone", timedelta(minutes=5), KEY, None)
    assert security.decode_access_token(token, KEY).subject == "someone"
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}AA"
    with pytest.raises(security.InvalidTokenError):
        security.decode_access_token(forged, KEY)
