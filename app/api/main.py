from typing import Any

from fastapi import APIRouter

from app.api.rate_limit import rate_limit
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

_DEFAULT = {"dependencies": [rate_limit("default")]}
_GENERATIONS = {"dependencies": [rate_limit("generations")]}

# In matching order. Prefixes never overlap, so the order only decides how many routers a
# request is checked against (~4 us each in FastAPI): the busiest first, and login, whose
# routes have no prefix to skip them by, last but one. Route groups and their budgets:
# settings.RATE_LIMITS. Login and the public catalogue have no caller to count against.
API_ROUTERS: list[tuple[APIRouter, dict[str, Any]]] = [
    (generation_models.router, {}),
    (generations.router, _GENERATIONS),
    (generation_events.router, _DEFAULT),
    (predictions.router, _GENERATIONS),
    (prompts.router, _DEFAULT),
    *(
        (catalogue_router, _DEFAULT)
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
    (users.router, _DEFAULT),
    (organizations.router, _DEFAULT),
    (api_keys.router, _DEFAULT),
    (webhooks.router, _DEFAULT),
    (login.router, {}),
    (utils.router, {}),
]
