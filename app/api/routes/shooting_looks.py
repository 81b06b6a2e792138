"""`/shooting-looks/`: organization-scoped CRUD (see `app.services.catalogue` for the rules)."""

from app.api.catalogue_routes import catalogue_router
from app.models.shooting_look import (
    ShootingLookCreate,
    ShootingLookPublic,
    ShootingLooksPublic,
    ShootingLookUpdate,
)
from app.services.catalogue_kinds import SHOOTING_LOOKS

router = catalogue_router(
    SHOOTING_LOOKS,
    prefix="/shooting-looks",
    singular="shooting_look",
    plural="shooting_looks",
    create_schema=ShootingLookCreate,
    update_schema=ShootingLookUpdate,
    public_schema=ShootingLookPublic,
    list_schema=ShootingLooksPublic,
    update_method="PATCH",
)
