from fastapi import APIRouter

from app.api.routes import (
    api_keys,
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
)

api_router = APIRouter()
api_router.include_router(login.router)
api_router.include_router(users.router)
api_router.include_router(organizations.router)
api_router.include_router(api_keys.router)
api_router.include_router(generation_models.router)
api_router.include_router(subjects.router)
api_router.include_router(products.router)
api_router.include_router(styles.router)
api_router.include_router(shot_types.router)
api_router.include_router(pose_presets.router)
api_router.include_router(shooting_looks.router)
api_router.include_router(system_prompts.router)
api_router.include_router(prompts.router)
api_router.include_router(generations.router)
api_router.include_router(predictions.router)
api_router.include_router(utils.router)
