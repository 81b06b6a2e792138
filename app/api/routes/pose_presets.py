"""`/pose-presets/`: organization-scoped CRUD (see `app.services.catalogue` for the rules)."""

from app.api.catalogue_routes import catalogue_router
from app.models.pose_preset import (
    PosePresetCreate,
    PosePresetPublic,
    PosePresetsPublic,
    PosePresetUpdate,
)
from app.services.catalogue_kinds import POSE_PRESETS

router = catalogue_router(
    POSE_PRESETS,
    prefix="/pose-presets",
    singular="pose_preset",
    plural="pose_presets",
    create_schema=PosePresetCreate,
    update_schema=PosePresetUpdate,
    public_schema=PosePresetPublic,
    list_schema=PosePresetsPublic,
    update_method="PUT",
)
