"""`/shot-types/`: organization-scoped CRUD (see `app.services.catalogue` for the rules)."""

from app.api.catalogue_routes import catalogue_router
from app.models.shot_type import ShotTypeCreate, ShotTypePublic, ShotTypesPublic, ShotTypeUpdate
from app.services.catalogue_kinds import SHOT_TYPES

router = catalogue_router(
    SHOT_TYPES,
    prefix="/shot-types",
    singular="shot_type",
    plural="shot_types",
    create_schema=ShotTypeCreate,
    update_schema=ShotTypeUpdate,
    public_schema=ShotTypePublic,
    list_schema=ShotTypesPublic,
    update_method="PATCH",
)
