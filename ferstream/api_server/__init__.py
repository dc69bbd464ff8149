"""``ferstream serve``: the HTTP API (FastAPI, served by uvicorn) for programs that speak only HTTP.

One router per resource (``routes/``), mounted by one app factory (``app.create_app``); the routes call the same
functions the CLI and the Python API call (ingest, the worker's analyzer, db queries). Every route but ``/healthz``
needs an API key (``auth``); every error is ``application/problem+json`` (``problems``).
"""
