"""`/styles/`: organization-scoped CRUD (see `app.services.catalogue` for the rules)."""

from app.api.catalogue_routes import catalogue_router
from app.models.style import StyleCreate, StylePublic, StylesPublic, StyleUpdate
from app.services.catalogue_kinds import STYLES

router = catalogue_router(
    STYLES,
    prefix="/styles",
    singular="style",
    plural="styles",
    create_schema=StyleCreate,
    update_schema=StyleUpdate,
    public_schema=StylePublic,
    list_schema=StylesPublic,
    update_method="PATCH",
)
