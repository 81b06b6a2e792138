from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.api.deps import get_current_principal
from app.api.rate_limit import register_group
from app.api.routes import (
    api_keys,
    generation_events,
    generation_models,
    generations,
    login,
    organizations,
    pose_presets,
    predictions,
    products,
    prompts,
    shooting_looks,
    shot_types,
    styles,
    subjects,
    system_prompts,
    users,
    utils,
    webhooks,
)


def _takes_principal(dependant: Dependant) -> bool:
    return any(
        sub.call is get_current_principal or _takes_principal(sub) for sub in dependant.dependencies
    )


def limited(router: APIRouter, group: str) -> APIRouter:
    """Count every request to `router` against `group`'s budget for its credential.

    The count is made where the caller is resolved (`get_current_principal`), not by a
    router-level dependency of its own: each dependency is one more walk of FastAPI's
    solver per request. So every route here must take the caller, which also makes every
    limited route authenticated, as the budget is per credential."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        if not _takes_principal(route.dependant):
            raise TypeError(f"{route.path}: a rate-limited route must depend on the caller")
        register_group(route.endpoint, group)
    return router


# In matching order. Prefixes never overlap, so the order only decides how many routers a
# request is checked against (~4 us each in FastAPI): the busiest first, and login, whose
# routes have no prefix to skip them by, last but one. Route groups and their budgets:
# settings.RATE_LIMITS. The public catalogue has no caller to count against; login counts
# attempts per account and address itself (`count_login_attempt`).
API_ROUTERS: list[APIRouter] = [
    generation_models.router,
    limited(generations.router, "generations"),
    limited(generation_events.router, "default"),
    limited(predictions.router, "generations"),
    limited(prompts.router, "default"),
    *(
        limited(catalogue_router, "default")
        for catalogue_router in (
            subjects.router,
            products.router,
            styles.router,
            shot_types.router,
            pose_presets.router,
            shooting_looks.router,
            system_prompts.router,
        )
    ),
    limited(users.router, "default"),
    limited(organizations.router, "default"),
    limited(api_keys.router, "default"),
    limited(webhooks.router, "default"),
    login.router,
    utils.router,
]
