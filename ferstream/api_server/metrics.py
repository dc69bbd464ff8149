"""The HTTP API's own Prometheus metrics, served on its ``/metrics`` with the project's (``ferstream.metrics``):

- ``ferstream_api_requests_total{route,method,status}``: requests answered, by route template (never the raw path,
  so that ids do not make new series);
- ``ferstream_api_request_seconds{route,method}``: seconds to the answer's headers (histogram; a live feed counts
  until its stream starts).
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from prometheus_client import Counter, Histogram

REQUESTS = Counter("ferstream_api_requests", "HTTP API requests answered", ["route", "method", "status"])
SECONDS = Histogram("ferstream_api_request_seconds", "Seconds to an HTTP API answer's headers", ["route", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def count(request: Request, call_next):
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = getattr(request.scope.get("route"), "path", None) or "(no route)"
            REQUESTS.labels(route, request.method, str(status)).inc()
            SECONDS.labels(route, request.method).observe(time.perf_counter() - start)
