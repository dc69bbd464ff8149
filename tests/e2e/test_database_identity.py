"""Results land in the database they were queued from, whatever database a worker is pointed at.

Each database has an identity (a uuid its migration writes); its work goes to its own queue, keys
and job ids, so a worker on another database takes none of it, and two databases share one Redis.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from ferstream import db
from ferstream.db.identity import database_id
from ferstream.db.models import Chunk as ChunkRow
from ferstream.settings import Settings
from tests.helpers import counts, ferstream, queue_of
from ferstream.worker.process import AnalysisWorker
from ferstream.worker.runtime import Runtime, set_runtime


def test_a_worker_on_another_database_takes_none_of_its_jobs(astronaut_video, redis_url, database_url, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    # the other folder's own database (the relative default) already holds a finished source 1
    ferstream("analyze", str(astronaut_video), "--name", "unrelated", cwd=other)
    other_url = f"sqlite:///{other / 'ferstream.db'}"
    before = counts(other_url, 1)

    ferstream("analyze", str(astronaut_video), "--redis", redis_url, "--database", database_url, "--name", "queued")
    redis = Redis.from_url(redis_url)
    queued_keys = set(redis.keys("ferstream:chunk:*"))
    assert len(queued_keys) == 4

    wrong = ferstream("worker", "--burst", "--redis", redis_url, cwd=other)  # the misconfigured worker
    assert "serving database sqlite:///ferstream.db (id " + database_id(db.connect(other_url)) in wrong.stderr
    assert counts(other_url, 1) == before  # nothing written onto the unrelated source
    assert counts(database_url, 1)["frames"] == 0
    assert set(redis.keys("ferstream:chunk:*")) == queued_keys  # and nothing of the queued video lost
    assert Queue(queue_of(database_url), connection=redis).count == 4

    status = ferstream("status", "--redis", redis_url, "--database", database_url)
    assert "no worker serves this database's queue" in status.stdout

    ferstream("worker", "--burst", "--redis", redis_url, "--database", database_url)
    c = counts(database_url, 1)
    assert c["frames"] == 60 and max(c["labels"], key=c["labels"].get) == "happy"
    assert not redis.keys("ferstream:chunk:*")


def test_a_foreign_job_is_refused_without_writing_anywhere(astronaut_video, redis_url, sqlite_url, tmp_path):
    """Even a job that reaches the wrong queue (a hand-made one) never writes into the worker's database."""
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    ferstream("analyze", str(astronaut_video), "--database", other_url)  # source 1 there: done
    ferstream("analyze", str(astronaut_video), "--redis", redis_url, "--database", sqlite_url)
    redis = Redis.from_url(redis_url)
    mine, theirs = Queue(queue_of(sqlite_url), connection=redis), Queue(queue_of(other_url), connection=redis)
    for job in mine.get_jobs():  # the same work, put on the other database's queue by hand
        mine.remove(job)
        theirs.enqueue(job.func_name, *job.args, retry=None)
    before = counts(other_url, 1)
    set_runtime(Runtime(Settings(database_url=other_url, redis_url=redis_url, retries=0)))
    AnalysisWorker([theirs.name], connection=redis).work(burst=True)
    failed = FailedJobRegistry(queue=theirs)
    assert failed.count == 4
    assert "ForeignJob" in theirs.fetch_job(failed.get_job_ids()[0]).latest_result().exc_string
    assert counts(other_url, 1) == before
    with db.connect(sqlite_url).connect() as conn:  # no failure recorded in the right database either
        assert set(conn.execute(select(ChunkRow.status)).scalars()) == {"queued"}


def test_the_identity_is_stable_and_distinct(tmp_path, database_url):
    first = database_id(db.connect(database_url))
    assert len(first) == 32 and int(first, 16) >= 0
    again = ferstream("status", "--database", database_url).stdout  # another process reads the same id
    assert f"(id {first})" in again
    assert database_id(db.connect(f"sqlite:///{tmp_path / 'second.db'}")) != first
