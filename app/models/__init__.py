"""SQLModel tables and their API schemas, one module per entity.

Importing this package registers every table on `SQLModel.metadata` (Alembic relies on it).
"""

from app.models.api_key import ApiKey
from app.models.generation import Generation, Prediction
from app.models.generation_model import GenerativeModel
from app.models.idempotency import IdempotencyRecord
from app.models.organization import Organization, OrganizationMember
from app.models.pose_preset import PosePreset
from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.shot_type import ShotType
from app.models.style import Style
from app.models.subject import Subject
from app.models.system_prompt import SystemPrompt
from app.models.user import User
from app.models.webhook import CallbackSecret, WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "CallbackSecret",
    "Generation",
    "GenerativeModel",
    "IdempotencyRecord",
    "Organization",
    "OrganizationMember",
    "PosePreset",
    "Prediction",
    "Product",
    "ShootingLook",
    "ShotType",
    "Style",
    "Subject",
    "SystemPrompt",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
