"""Builds the five CRUD routes of a catalogue resource (they only differ in their schemas).

Each resource keeps its own router module in `app/api/routes/`; this factory keeps the
HTTP layer of the seven of them identical and thin.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter
from sqlmodel import SQLModel

from app.api.deps import CurrentPrincipal, LimitQuery, OwnerScopeDep, SessionDep, SkipQuery
from app.models.common import Message
from app.services import catalogue as service
from app.services.catalogue import CatalogueKind


def catalogue_router(
    kind: CatalogueKind[Any],
    *,
    prefix: str,
    singular: str,
    plural: str,
    create_schema: type[SQLModel],
    update_schema: type[SQLModel],
    public_schema: type[SQLModel],
    list_schema: type[SQLModel],
    update_method: Literal["PATCH", "PUT"] = "PATCH",
) -> APIRouter:
    tag = prefix.strip("/")
    router = APIRouter(prefix=prefix, tags=[tag])
    title, titles = kind.label.title(), f"{kind.label.title()}s"
    scope_note = "With `organization_id`, the organization's rows; without it, your personal rows."

    async def read_all(
        session: SessionDep, scope: OwnerScopeDep, skip: SkipQuery = 0, limit: LimitQuery = 100
    ) -> Any:
        rows, count = await service.list_rows(session, kind, scope, skip=skip, limit=limit)
        return list_schema.model_validate(
            {"data": [public_schema.model_validate(row) for row in rows], "count": count}
        )

    async def create(
        session: SessionDep, principal: CurrentPrincipal, scope: OwnerScopeDep, data: Any
    ) -> Any:
        row = await service.create_row(
            session, kind, scope, data, is_superuser=principal.is_superuser
        )
        return public_schema.model_validate(row)

    async def read_one(session: SessionDep, scope: OwnerScopeDep, id: uuid.UUID) -> Any:
        return public_schema.model_validate(await service.get_row(session, kind, scope, id))

    async def update(
        session: SessionDep,
        principal: CurrentPrincipal,
        scope: OwnerScopeDep,
        id: uuid.UUID,
        data: Any,
    ) -> Any:
        row = await service.update_row(
            session, kind, scope, id, data, is_superuser=principal.is_superuser
        )
        return public_schema.model_validate(row)

    async def delete(session: SessionDep, scope: OwnerScopeDep, id: uuid.UUID) -> Message:
        await service.delete_row(session, kind, scope, id)
        return Message(message=f"{kind.label} deleted successfully")

    # The body types are only known here; FastAPI reads them from the annotations.
    create.__annotations__["data"] = create_schema
    update.__annotations__["data"] = update_schema

    router.add_api_route(
        "/",
        read_all,
        methods=["GET"],
        name=f"read_{plural}",
        summary=f"Read {titles}",
        description=f"List {plural.replace('_', ' ')}. {scope_note}",
        response_model=list_schema,
    )
    router.add_api_route(
        "/",
        create,
        methods=["POST"],
        name=f"create_{singular}",
        summary=f"Create {title}",
        description=f"Create a {kind.label.lower()} in the organization (`organization_id`) "
        "or in your personal space.",
        response_model=public_schema,
        status_code=201,
    )
    router.add_api_route(
        "/{id}",
        read_one,
        methods=["GET"],
        name=f"read_{singular}",
        summary=f"Read {title}",
        response_model=public_schema,
    )
    router.add_api_route(
        "/{id}",
        update,
        methods=[update_method],
        name=f"update_{singular}",
        summary=f"Update {title}",
        response_model=public_schema,
    )
    router.add_api_route(
        "/{id}",
        delete,
        methods=["DELETE"],
        name=f"delete_{singular}",
        summary=f"Delete {title}",
        response_model=Message,
    )
    return router
