"""What the server's logs must never hold."""

from __future__ import annotations

import logging

import pytest

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
