"""What the server's logs must never hold."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.config import Settings
from app.core.db import create_engine
from app.core.logs import configure_logging
from app.core.url_guard import OutboundPolicy, send_checked
from tests.clients.receiver import webhook_receiver


async def test_outbound_request_urls_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    # Webhook, callback and image URLs carry credentials in their paths and query strings.
    configure_logging()
    caplog.set_level(logging.INFO)
    with webhook_receiver() as receiver:
        url = f"{receiver.url}?token=s3cr3t-in-the-query"
        response, _ = await send_checked(
            "POST", url, OutboundPolicy.from_entries(["127.0.0.1"]), content=b"{}"
        )
    assert response.status_code == 200
    assert len(receiver.received) == 1
    assert "s3cr3t-in-the-query" not in caplog.text


async def test_database_errors_do_not_carry_their_parameters(settings: Settings) -> None:
    # A failed statement's error is logged whole: its parameters would be password hashes,
    # webhook secrets, API key digests.
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as info:
                await conn.execute(
                    text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "s3cr3t"}
                )
    finally:
        await engine.dispose()
    assert "s3cr3t" not in str(info.value)
