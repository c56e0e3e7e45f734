"""Prometheus metrics of one app (each app owns its registry, so tests can build many).

Exposed at ``GET /metrics`` in the Prometheus text format:

* ``genrekit_http_requests_total{method, route, status}``: requests answered;
* ``genrekit_http_request_duration_seconds{method, route}``: request latency histogram;
* ``genrekit_inference_duration_seconds``: decode + inference time per job;
* ``genrekit_job_queue_depth``: jobs waiting for a worker;
* ``genrekit_jobs_in_flight``: jobs running now;
* ``genrekit_classifications_total{outcome}``: classify answers (``computed``, ``cached``).

``route`` is the route template (``/api/v1/classifications/{classification_id}``), or
``unmatched`` for unknown paths, so that the label set stays bounded.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class ServiceMetrics:
    """The service's metrics in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "genrekit_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=self.registry
        )
        self.request_latency = Histogram(
            "genrekit_http_request_duration_seconds",
            "HTTP request latency (seconds).",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.inference_time = Histogram(
            "genrekit_inference_duration_seconds",
            "Decode, visuals and inference time of one job (seconds).",
            buckets=_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.queue_depth = Gauge("genrekit_job_queue_depth", "Jobs waiting for a worker.", registry=self.registry)
        self.jobs_in_flight = Gauge("genrekit_jobs_in_flight", "Jobs running now.", registry=self.registry)
        self.classifications = Counter(
            "genrekit_classifications", "Classify answers by outcome.", ["outcome"], registry=self.registry
        )

    def set_jobs(self, n_waiting: int, n_running: int) -> None:
        """Update the queue gauges (the job pool's ``on_change`` callback)."""
        self.queue_depth.set(n_waiting)
        self.jobs_in_flight.set(n_running)


def route_template(scope: Scope) -> str:
    """The matched route's full path template, e.g. ``/api/v1/classifications/{classification_id}``.

    A route inside an included router may know only its path relative to the router's
    prefix; the template is then the request path's prefix that the route's own pattern
    leaves over, followed by the route's template. ``unmatched`` when no route matched.
    """
    route = scope.get("route")
    path_format = getattr(route, "path_format", None)
    pattern = getattr(route, "path_regex", None)
    if path_format is None or pattern is None:
        return "unmatched"
    path = scope.get("path", "")
    for start in range(len(path)):
        if (start == 0 or path[start] == "/") and pattern.match(path[start:]):
            return path[:start] + path_format
    return path_format


class MetricsMiddleware:
    """Pure ASGI middleware counting HTTP requests and timing them by route template."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            template = route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status_holder["status"])).inc()
            self.metrics.request_latency.labels(method, template).observe(time.perf_counter() - start)
