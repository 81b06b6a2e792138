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

api_router = APIRouter()
api_router.include_router(login.router)
# Route groups and their budgets: settings.RATE_LIMITS. Login and the public catalogue
# have no caller to count against.
api_router.include_router(users.router, dependencies=[rate_limit("default")])
api_router.include_router(organizations.router, dependencies=[rate_limit("default")])
api_router.include_router(api_keys.router, dependencies=[rate_limit("default")])
api_router.include_router(webhooks.router, dependencies=[rate_limit("default")])
api_router.include_router(generation_models.router)
for catalogue_router in (
    subjects.router,
    products.router,
    styles.router,
    shot_types.router,
    pose_presets.router,
    shooting_looks.router,
    system_prompts.router,
    prompts.router,
):
    api_router.include_router(catalogue_router, dependencies=[rate_limit("default")])
api_router.include_router(generations.router, dependencies=[rate_limit("generations")])
api_router.include_router(generation_events.router, dependencies=[rate_limit("default")])
api_router.include_router(predictions.router, dependencies=[rate_limit("generations")])
api_router.include_router(utils.router)
