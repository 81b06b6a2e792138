"""SQLModel tables and their API schemas, one module per entity.

Importing this package registers every table on `SQLModel.metadata` (Alembic relies on it).
"""

from app.models.api_key import ApiKey
from app.models.generation import Generation, Prediction
from app.models.generation_model import GenerativeModel
from app.models.organization import Organization, OrganizationMember
from app.models.user import User

__all__ = [
    "ApiKey",
    "Generation",
    "GenerativeModel",
    "Organization",
    "OrganizationMember",
    "Prediction",
    "User",
]
