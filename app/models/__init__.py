"""SQLModel tables and their API schemas, one module per entity.

Importing this package registers every table on `SQLModel.metadata` (Alembic relies on it).
"""

from app.models.api_key import ApiKey
from app.models.generation import Generation, Prediction
from app.models.generation_model import GenerativeModel
from app.models.idempotency import IdempotencyRecord
from app.models.organization import Organization, OrganizationMember
from app.models.user import User
from app.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Generation",
    "GenerativeModel",
    "IdempotencyRecord",
    "Organization",
    "OrganizationMember",
    "Prediction",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
