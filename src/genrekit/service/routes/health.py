"""Probes and metrics at the root: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from genrekit.service.deps import StateDep
from genrekit.service.errors import NotReadyError
from genrekit.service.problems import problem_responses
from genrekit.service.schemas import HealthPublic
from genrekit.store.db import check_database

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic, summary="Liveness: the process answers")
async def healthz() -> HealthPublic:
    return HealthPublic(status="ok")


@router.get(
    "/readyz",
    response_model=HealthPublic,
    summary="Readiness: model loaded and database reachable",
    responses=problem_responses(503),
)
async def readyz(state: StateDep) -> HealthPublic:
    checks: dict[str, str] = {}
    checks["model"] = "ok" if state.classifier is not None else f"not loaded: {state.classifier_error or 'loading'}"
    if state.engine is None:
        checks["database"] = "not connected"
    else:
        try:
            await run_in_threadpool(check_database, state.engine)
            checks["database"] = "ok"
        except SQLAlchemyError as error:
            checks["database"] = f"unreachable: {type(error).__name__}"
    failed = {k: v for k, v in checks.items() if v != "ok"}
    if failed:
        raise NotReadyError("; ".join(f"{k}: {v}" for k, v in failed.items()))
    return HealthPublic(status="ready", checks=checks)


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={
        200: {"description": "Prometheus text format.", "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
