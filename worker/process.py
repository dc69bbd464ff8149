"""Worker processes: RQ ``SimpleWorker``s that keep the model loaded between jobs.

RQ's default worker forks a child per job; TensorFlow Lite and OpenCV state
would be rebuilt every time (and TensorFlow is not fork-safe). A SimpleWorker
runs jobs in its own process, so the detector and model load once per process.
Several processes come from RQ's own ``WorkerPool``.
"""

from __future__ import annotations

import logging

from rq import SimpleWorker
from rq.worker_pool import WorkerPool

from ferstream.settings import Settings
from ingest.queue import connect_redis
from worker.runtime import Runtime, set_runtime

log = logging.getLogger(__name__)


class AnalysisWorker(SimpleWorker):
    """Runs ``worker.jobs`` in-process, with this process's runtime loaded once."""


def run_workers(settings: Settings, burst: bool = False, processes: int = 1, name: str | None = None) -> int:
    if not settings.redis_url:
        from ferstream.errors import ServiceError

        raise ServiceError("the worker needs Redis: set REDIS_URL or pass --redis URL")
    redis = connect_redis(settings.redis_url)
    runtime = Runtime(settings)
    set_runtime(runtime)
    runtime.engine  # noqa: B018 - migrate and check the database before taking jobs
    if processes <= 1:
        runtime.analyzer  # noqa: B018 - load the model once, before the first job
        worker = AnalysisWorker([settings.queue], connection=redis, name=name)
        worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
        return 0
    pool = WorkerPool([settings.queue], connection=redis, num_workers=processes, worker_class=AnalysisWorker)
    pool.start(burst=burst, logging_level="INFO")
    return 0
