"""Worker processes: RQ ``SimpleWorker``s that keep the model loaded between jobs.

RQ's default worker forks a child per job; TensorFlow Lite and OpenCV state
would be rebuilt every time (and TensorFlow is not fork-safe). A SimpleWorker
runs jobs in its own process, so the detector and model load once per process.
Several processes come from RQ's own ``WorkerPool``.

Crash recovery, verified with rq 3.0.0: a stock SimpleWorker registers a job in
the StartedJobRegistry for ``job_timeout + 60`` seconds and never heartbeats it
while the job runs, and an idle worker sits in a blocking dequeue for
``worker_ttl - 15`` (405) seconds between maintenance runs; with the default
10-minute maintenance interval a job whose worker was SIGKILLed stays
``started`` for many minutes. ``AnalysisWorker`` heartbeats the running job
from a thread with a short TTL, and runs maintenance every few seconds with a
short dequeue timeout, so RQ's own ``StartedJobRegistry.cleanup`` finds the
abandoned job within seconds and retries it (``Retry`` on the job).
"""

from __future__ import annotations

import logging
import os
import threading
import time

from redis.exceptions import ConnectionError, RedisError, TimeoutError
from rq import SimpleWorker
from rq.worker import WorkerStatus
from rq.worker_pool import WorkerPool

from ferstream.emotion_model import available_cores
from ferstream.errors import ConfigError, ServiceError
from ferstream.settings import Settings
from ferstream.urls import mask_url
from ferstream.ingest.queue import connect_redis, queue_name
from ferstream.worker.runtime import Runtime, set_runtime

log = logging.getLogger(__name__)


#: seconds between heartbeats of a running job
DEFAULT_HEARTBEAT_INTERVAL = 5
#: a running job whose heartbeat is this many seconds late is abandoned (its worker died)
DEFAULT_HEARTBEAT_GRACE = 10
#: seconds between registry clean-ups (RQ's maintenance), which re-queue abandoned jobs
DEFAULT_MAINTENANCE_INTERVAL = 5
#: seconds a worker stays registered without a heartbeat; an idle worker wakes every ttl - 15 s
DEFAULT_WORKER_TTL = 25


class AnalysisWorker(SimpleWorker):
    """Runs ``worker.jobs`` in-process, with this process's runtime loaded once, and heartbeats running jobs."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_monitoring_interval", DEFAULT_HEARTBEAT_INTERVAL)
        kwargs.setdefault("maintenance_interval", DEFAULT_MAINTENANCE_INTERVAL)
        kwargs.setdefault("worker_ttl", DEFAULT_WORKER_TTL)
        super().__init__(*args, **kwargs)

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        return int(self.job_monitoring_interval + DEFAULT_HEARTBEAT_GRACE)

    def unsubscribe(self):
        """RQ 3.0.0's unsubscribe with redis-py 8.2 took a minute: RQ unsubscribes, then stops the pubsub thread,
        whose loop, still running, goes back to wait up to its 60 s sleep for a subscription, while redis-py 8.2's
        ``stop()`` now joins it without a timeout. The loop's flag cleared first, the reply to the unsubscribe ends
        it at once (a worker's exit: under a second again)."""
        running = getattr(self.pubsub_thread, "_running", None)
        if running is not None:
            running.clear()
        super().unsubscribe()

    def execute_job(self, job, queue):
        execution = self.prepare_execution(job)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat_while_running, args=(job, execution, stop),
                                name="job-heartbeat", daemon=True)
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            stop.set()
            beat.join()
        self.set_state(WorkerStatus.IDLE)

    def _heartbeat_while_running(self, job, execution, stop: threading.Event) -> None:
        while not stop.wait(self.job_monitoring_interval):
            try:
                self.maintain_heartbeats(job, execution)
            except RedisError as exc:  # Redis restarting: the next beat tries again
                log.warning("heartbeat of job %s failed: %s", job.id, exc)


def work_through_outages(redis, queue: str, burst: bool = False, name: str | None = None) -> None:
    """Run an AnalysisWorker; if Redis goes away (RQ's worker then quits), wait for it and start a fresh one.

    The process, and the model it loaded, stay; the job that was running when Redis
    vanished is retried by RQ's registry cleanup, or re-sent by ingest if Redis lost it.
    """
    wait = 1.0
    while True:
        worker = AnalysisWorker([queue], connection=redis, name=name)
        try:
            worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
        except (ConnectionError, TimeoutError) as exc:
            log.warning("worker %s lost Redis: %s", worker.name, exc)
        if burst or worker._shutdown_requested_date is not None:  # SIGTERM/SIGINT, or the queue drained
            return
        while True:  # RQ's worker quit on an error: wait until Redis answers, then start again
            try:
                redis.ping()
                break
            except (ConnectionError, TimeoutError):
                log.warning("Redis unreachable: retrying in %.0fs", wait)
                time.sleep(wait)
                wait = min(wait * 2, 30.0)
        wait = 1.0
        log.info("Redis is back: starting a fresh worker")


def run_workers(settings: Settings, burst: bool = False, processes: int = 1, name: str | None = None,
                metrics_port: int | None = None, metrics_host: str | None = None) -> int:
    if processes < 1:
        raise ConfigError(f"--processes must be at least 1, got {processes}")
    if not settings.redis_url:
        raise ServiceError("the worker needs Redis: set REDIS_URL or pass --redis URL")
    redis = connect_redis(settings.redis_url)
    runtime = Runtime(settings)
    set_runtime(runtime)
    queue = queue_name(settings.queue, runtime.database_id)  # migrates and checks the database before taking jobs
    log.info("serving database %s (id %s) from Redis %s, queue %s, with %d process(es)",
             mask_url(settings.database_url), runtime.database_id, mask_url(settings.redis_url), queue, processes)
    if metrics_port is not None:  # one endpoint for the pool: the CLI put the library in multiprocess mode for N > 1
        from rq import Queue

        from ferstream.ingest.source_metrics import QueueCollector
        from ferstream.metrics import serve
        from ferstream.settings import DEFAULT_METRICS_HOST

        serve(metrics_port, metrics_host or DEFAULT_METRICS_HOST, collectors=(QueueCollector([Queue(queue, connection=redis)]),))
    if processes == 1:
        runtime.analyzer  # noqa: B018 - load the model once, before the first job
        work_through_outages(redis, queue, burst=burst, name=name)
        return 0
    # each process's model gets its share of the cores rather than all of them (oversubscribed threads stall)
    os.environ.setdefault("FERSTREAM_MODEL_THREADS", str(max(1, available_cores() // processes)))
    pool = WorkerPool([queue], connection=redis, num_workers=processes, worker_class=AnalysisWorker)
    pool.start(burst=burst, logging_level="INFO")
    return 0
