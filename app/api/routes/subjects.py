"""`/subjects/`: organization-scoped CRUD (see `app.services.catalogue` for the rules)."""

from app.api.catalogue_routes import catalogue_router
from app.models.subject import SubjectCreate, SubjectPublic, SubjectsPublic, SubjectUpdate
from app.services.catalogue_kinds import SUBJECTS

router = catalogue_router(
    SUBJECTS,
    prefix="/subjects",
    singular="subject",
    plural="subjects",
    create_schema=SubjectCreate,
    update_schema=SubjectUpdate,
    public_schema=SubjectPublic,
    list_schema=SubjectsPublic,
    update_method="PATCH",
)
