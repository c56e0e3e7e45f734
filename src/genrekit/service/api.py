"""The versioned API: every resource router under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from genrekit.service.routes import (
    classifications,
    classify,
    config,
    discovery,
    explanations,
    feedback,
    keys,
    sharing,
    versions,
)

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(classify.router)
api_router.include_router(classifications.router)
api_router.include_router(explanations.router)
api_router.include_router(discovery.router)
api_router.include_router(versions.router)
api_router.include_router(config.router)
api_router.include_router(sharing.owner_router)
api_router.include_router(sharing.public_router)
api_router.include_router(keys.router)
api_router.include_router(feedback.router)
