"""``/models``: the model this server runs (from its card), the bundle versions it follows (the
model registry), and promotion and rollback for the ``admin`` role (the same as ``genrekit models``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from genrekit.lifecycle.versions import ModelRegistry, ModelVersion, RegistryError
from genrekit.service.deps import AdminDep, ClassifierDep, StateDep
from genrekit.service.errors import NotFoundError, RegistryConflictError
from genrekit.service.problems import problem_responses
from genrekit.service.schemas import ModelPublic, ModelsPublic, ModelVersionPublic
from genrekit.service.state import ServiceState, model_identity

router = APIRouter(prefix="/models", tags=["models"])


@router.get(
    "", response_model=ModelsPublic, summary="The loaded model and the model registry", responses=problem_responses(503)
)
def list_models(classifier: ClassifierDep, state: StateDep) -> ModelsPublic:
    card = classifier.card
    name, version = model_identity(classifier)
    if card is None:
        model = ModelPublic(
            name=name,
            version=version,
            model_type="unknown",
            labels=list(getattr(classifier, "labels", [])),
            sample_rate=int(classifier.sample_rate),
            window_s=float(getattr(classifier, "window_s", 0.0)),
        )
    else:
        model = ModelPublic(
            name=name,
            version=version,
            model_type=card.model_type,
            labels=list(card.labels),
            sample_rate=int(card.sample_rate),
            window_s=float(card.window_s),
            metrics=dict(card.metrics),
            limitations=list(card.limitations),
            tags=list(card.tags),
        )
    registry = _registry(state)
    try:
        champion, versions, history = registry.champion_id(), registry.versions(), registry.history()
    except RegistryError:
        champion, versions, history = None, [], []
    return ModelsPublic(data=[model], champion=champion, versions=[_version(v) for v in versions], history=history)


def _registry(state: ServiceState) -> ModelRegistry:
    watcher = state.model_watcher
    return watcher.registry if watcher is not None else ModelRegistry(state.settings.registry_dir)


def _version(version: ModelVersion) -> ModelVersionPublic:
    return ModelVersionPublic.model_validate(version, from_attributes=True)


async def _changed(state: ServiceState, change: object) -> ModelVersionPublic:
    """Apply a registry change (a callable), then load the new champion at once."""
    try:
        version = await run_in_threadpool(change)
    except RegistryError as error:
        message = str(error)
        raise (NotFoundError(message) if "no model version" in message else RegistryConflictError(message)) from error
    if state.model_watcher is not None:
        await state.model_watcher.check()
    return _version(version)


VersionPath = Annotated[str, Path(max_length=100, description="Registry id of the version.")]


@router.post(
    "/{version}/promote",
    response_model=ModelVersionPublic,
    summary="Make a registered version the champion (admin role); served at once",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def promote_model(version: VersionPath, state: StateDep, admin: AdminDep) -> ModelVersionPublic:
    registry = _registry(state)
    who = admin.key_id or "open mode"
    return await _changed(state, lambda: registry.promote(version, reason=f"promoted through the API by key {who}"))


@router.post(
    "/rollback",
    response_model=ModelVersionPublic,
    summary="Serve the previous champion again (admin role)",
    responses=problem_responses(401, 403, 409),
)
async def rollback_model(state: StateDep, admin: AdminDep) -> ModelVersionPublic:
    registry = _registry(state)
    who = admin.key_id or "open mode"
    return await _changed(state, lambda: registry.rollback(reason=f"rolled back through the API by key {who}"))
