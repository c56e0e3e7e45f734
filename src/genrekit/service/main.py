"""Build the FastAPI app: ``create_app(settings, classifier) -> FastAPI``.

No app is built at import. Run it with ``genrekit serve`` or
``uvicorn --factory genrekit.service.main:create_app``.

At startup (lifespan) the app runs the database migrations (``upgrade head``), loads the
model once (``Classifier.load(settings.model)``, unless one was injected) and starts the
worker pool; a model that fails to load leaves the app up but not ready (``/readyz`` and
``POST /classify`` answer 503).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from genrekit._version import __version__
from genrekit.errors import GenrekitError
from genrekit.lifecycle.versions import ModelRegistry
from genrekit.service.access.control import AccessMiddleware
from genrekit.service.access.security import install_security
from genrekit.service.api import api_router
from genrekit.service.config import Settings
from genrekit.service.metrics import MetricsMiddleware, ServiceMetrics
from genrekit.service.model_reload import ModelWatcher
from genrekit.service.pages import install_pages
from genrekit.service.problems import Problem, install_problem_handlers, problem_responses
from genrekit.service.ratelimit import RateLimiter
from genrekit.service.routes import health
from genrekit.service.schemas import ClassifyUrlRequest
from genrekit.service.state import ServiceClassifier, ServiceState
from genrekit.service.work.jobs import JobPool
from genrekit.settings import inference_threads
from genrekit.store.db import create_db_engine, make_session_factory, run_migrations
from genrekit.store.vectors import prepare_vector_search

logger = logging.getLogger("genrekit.service")

DESCRIPTION = """Music genre classification over HTTP.

* `POST /api/v1/classify`: upload a file (multipart field `file`); `POST /api/v1/classify/url` with
  `{"url": ...}`; `POST /api/v1/classify/raw` with the bytes. The genre comes at once; the full
  timeline follows in the background (poll the result until `complete`).
* `GET /api/v1/classifications/{id}`: a stored result (permalink); `.../visuals` for the
  waveform and spectrogram; `.../audio` for the submitted audio, with byte ranges, when
  the server keeps it; `GET /api/v1/classifications` for the history (search with `q`);
  `DELETE /api/v1/classifications/{id}` removes a result and its audio.
* `GET /api/v1/config`: upload and duration limits, and whether audio is kept.
* Key mode (`GENREKIT_REQUIRE_KEYS=1`, or a public interface): send `Authorization: Bearer <key>`
  (`genrekit keys create --role read|editor|admin`). Results are private to the key that made
  them; `POST /api/v1/classifications/{id}/share` makes a link anyone can open.
* Errors are RFC 9457 problem details (`application/problem+json`).
"""


def _load_classifier(settings: Settings, bundle: Path | None = None) -> ServiceClassifier:
    """The classifier of ``bundle`` (a registry version), else of ``settings.model``."""
    from genrekit.predict import Classifier

    threads = settings.threads or max(1, inference_threads() // settings.max_concurrent_jobs)
    return Classifier.load(
        bundle if bundle is not None else settings.model, max_windows=settings.max_windows, threads=threads
    )


def create_app(settings: Settings | None = None, classifier: ServiceClassifier | None = None) -> FastAPI:
    """Build the genrekit REST app.

    Parameters
    ----------
    settings : Settings or None
        Configuration; ``None`` reads ``GENREKIT_*`` environment variables.
    classifier : object or None
        A ready classifier (tests inject one); ``None`` loads ``settings.model`` at startup
        with :meth:`genrekit.predict.Classifier.load`.

    Returns
    -------
    FastAPI
        The app; its lifespan must run (uvicorn, or ``with TestClient(app)``) before requests.
    """
    settings = settings or Settings()
    metrics = ServiceMetrics()
    state = ServiceState(settings=settings, metrics=metrics, rate_limiter=RateLimiter(settings.rate_limit_per_minute))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_db_engine(settings.resolved_database_url)
        await run_in_threadpool(run_migrations, engine)
        search_method = await run_in_threadpool(prepare_vector_search, engine)
        logger.info("similarity search: %s", search_method)
        state.engine = engine
        state.session_factory = make_session_factory(engine)
        watcher = ModelWatcher(
            state,
            ModelRegistry(settings.registry_dir),
            functools.partial(_load_classifier, settings),
            settings.model_poll_s,
        )
        state.model_watcher = watcher
        if classifier is not None:
            state.classifier = classifier
            watcher.serving = await run_in_threadpool(watcher.registry.champion_id)
        else:
            try:
                if not await watcher.check():
                    state.classifier = await run_in_threadpool(_load_classifier, settings)
            except (GenrekitError, OSError) as error:
                state.classifier_error = str(error)
                logger.error("model not loaded, the service is not ready: %s", error)
        watcher.start()
        state.pool = JobPool(
            settings.max_concurrent_jobs, settings.max_queue, settings.job_timeout_s, on_change=metrics.set_jobs
        )
        try:
            yield
        finally:
            await watcher.stop()
            await state.visuals.shutdown()
            await state.timelines.shutdown(settings.timeline_shutdown_wait_s)
            state.pool.shutdown()
            engine.dispose()

    app = FastAPI(
        title="genrekit",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.genrekit = state
    install_problem_handlers(app)
    app.include_router(api_router)
    app.include_router(health.router)
    install_pages(app)
    app.add_middleware(AccessMiddleware, state=state)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_security(app, cors_origins=settings.cors_origin_list)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def operation_id(route: APIRoute) -> str:
    """Short, stable operation ids for generated clients: the route function's name (``classify``)."""
    return route.name


_RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 0},
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema, with the problem and URL-request schemas the routes refer to,
    500 and 503 (the database unreachable) declared on every operation and ``Retry-After``
    on 429 and 503."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, ClassifyUrlRequest):
            components[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.setdefault("500", problem_responses(500)[500])
                responses.setdefault("503", problem_responses(503)[503])
                for status in ("429", "503"):
                    if status in responses:
                        responses[status].setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
        app.openapi_schema = schema
    return app.openapi_schema
