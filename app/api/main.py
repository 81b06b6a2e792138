from fastapi import APIRouter

from app.api.routes import (
    api_keys,
    generation_models,
    generations,
    login,
    organizations,
    predictions,
    users,
    utils,
)

api_router = APIRouter()
api_router.include_router(login.router)
api_router.include_router(users.router)
api_router.include_router(organizations.router)
api_router.include_router(api_keys.router)
api_router.include_router(generation_models.router)
api_router.include_router(generations.router)
api_router.include_router(predictions.router)
api_router.include_router(utils.router)
