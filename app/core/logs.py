"""Logging for the API and worker processes."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format=FORMAT)
    # httpx logs every request's full URL at INFO: user-supplied image URLs, callback and
    # webhook URLs carry their credentials there (signed query strings, tokens in paths).
    # What the server did with them is recorded without the URL (deliveries, attempts).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
