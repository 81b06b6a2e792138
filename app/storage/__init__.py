"""Where generated files live: one interface, local filesystem or S3-compatible storage."""

from app.storage.base import Storage, StoredObject
from app.storage.factory import create_storage

__all__ = ["Storage", "StoredObject", "create_storage"]
