"""ferstream as a user runs it, in child processes: a command measured to its end (wall and CPU seconds, its own
peak memory), and N `ferstream worker` processes on one queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.data import REPO

#: the ferstream CLI, as a user runs it
CLI = [sys.executable, "-m", "ferstream.cli"]
#: seconds a worker process has to start and register
START_TIMEOUT = 180


@dataclass
class ChildRun:
    """A finished child process: exit status, wall and CPU seconds, peak resident memory."""

    returncode: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: str

    def check(self, what: str) -> "ChildRun":
        if self.returncode != 0:
            raise RuntimeError(f"{what} exited {self.returncode}:\n{self.output[-3000:]}")
        return self


#: a small process that starts the measured command and reports its rusage: Linux counts the RSS a process
#: had before exec (a fork of this process, with TensorFlow loaded, say) in its ru_maxrss, so the measured
#: command must be forked from a small process
_LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"status": status, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, f)
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_child(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> ChildRun:
    """Run ``cmd`` to its end: exit status, wall and CPU seconds, and its own peak RSS (ru_maxrss).

    The command is forked from a small launcher that reaps it with os.wait4, so its peak
    is its own, not inherited from this process (see _LAUNCHER).
    """
    with tempfile.TemporaryDirectory(prefix="ferstream-bench-child-") as tmp:
        usage_file, log_file = Path(tmp) / "usage.json", Path(tmp) / "output.log"
        with open(log_file, "w") as log:
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(usage_file), *cmd], stdout=log,
                                    stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            seconds = time.perf_counter() - start
        output = log_file.read_text(errors="replace")
        if not usage_file.exists():
            return ChildRun(proc.returncode or -9, seconds, float("nan"), float("nan"), output)
        usage = json.loads(usage_file.read_text())
    return ChildRun(os.waitstatus_to_exitcode(usage["status"]), seconds, usage["cpu"], usage["maxrss_kb"] / 1024, output)


class Workers:
    """N ``ferstream worker`` processes on one queue; started, awaited until registered, stopped with SIGTERM."""

    def __init__(self, n: int, redis_url: str, database_url: str, queue: str, folder: Path):
        self.n, self.redis_url, self.database_url, self.queue, self.folder = n, redis_url, database_url, queue, folder
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "Workers":
        from redis import Redis
        from rq import Queue, Worker

        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
        for k in ("REDIS_URL", "DATABASE_URL"):
            env.pop(k, None)
        for i in range(self.n):
            with open(self.folder / f"worker-{i}.log", "w") as log:
                self.procs.append(subprocess.Popen(
                    [*CLI, "worker", "--redis", self.redis_url, "--database", self.database_url],
                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        redis, queue = Redis.from_url(self.redis_url), Queue(self.queue, connection=Redis.from_url(self.redis_url))
        deadline = time.monotonic() + START_TIMEOUT
        while Worker.count(connection=redis, queue=queue) < self.n:
            self.check()
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"{self.n} workers did not register within {START_TIMEOUT}s:\n{self.logs()}")
            time.sleep(0.2)
        return self

    @property
    def pids(self) -> set[int]:
        return {p.pid for p in self.procs}

    def check(self) -> None:
        dead = [p for p in self.procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a worker exited ({dead[0].returncode}):\n{self.logs()}")

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- worker-{i}.log\n{(self.folder / f'worker-{i}.log').read_text(errors='replace')[-tail:]}"
                         for i in range(len(self.procs)))

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
