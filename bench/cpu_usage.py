"""Cores used, process by process, between two moments: from /proc (this user's processes and the machine's busy
time) and from Redis's own CPU counters; what bench/load.py reports per point."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stats() -> dict[int, tuple[str, int, int, float]]:
    """pid -> (command name, parent pid, nice, CPU seconds) of every process this user may read."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        found[int(entry.name)] = (name, int(fields[1]), int(fields[16]), (int(fields[11]) + int(fields[12])) / _TICK)
    return found


def _command(pid: int) -> str:
    """A process's program and first argument (``ferstream train``)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace") for a in argv if a]
    if len(words) > 1 and Path(words[0]).name.startswith("python"):  # a script: name it, not the interpreter
        words = words[1:]
    return " ".join([Path(words[0]).name, *words[1:2]]) if words else str(pid)


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(parts[:8]) - parts[3] - parts[4]) / _TICK  # everything but idle and iowait, steal included


@dataclass
class CpuSnapshot:
    at: float
    machine: float
    procs: dict[int, tuple[str, int, int, float]]
    redis: float


def cpu_snapshot(redis) -> CpuSnapshot:
    info = redis.info("cpu")
    return CpuSnapshot(time.perf_counter(), _machine_busy(), _proc_stats(),
                       float(info["used_cpu_sys"]) + float(info["used_cpu_user"]))


def descendants(procs: dict, roots: set[int]) -> set[int]:
    found, grew = set(roots), True
    while grew:
        more = {pid for pid, (_, ppid, _, _) in procs.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return found


def postgres_pids(engine) -> set[int]:
    """The PostgreSQL server processes serving ``engine``'s database, and the server's own (WAL writer,
    checkpointer ...); none for another database, or when the server is on another machine (not in /proc)."""
    if engine.dialect.name != "postgresql":
        return set()
    from sqlalchemy import text

    with engine.connect() as conn:
        return set(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                     "OR backend_type <> 'client backend'")).scalars())


def cores_used(before: CpuSnapshot, after: CpuSnapshot, workers: set[int], redis_pid: int | None,
               postgres: set[int]) -> dict[str, float]:
    """Cores used between two snapshots by the workers, PostgreSQL, Redis, this script and the rest."""
    seconds = after.at - before.at

    def delta(pids) -> float:
        return sum(after.procs[p][3] - (before.procs[p][3] if p in before.procs else 0.0) for p in pids if p in after.procs)

    ours = descendants(after.procs, workers)
    postgres = {p for p in postgres if p in after.procs}
    here = {os.getpid()}
    known = ours | postgres | here | ({redis_pid} if redis_pid else set())
    machine = (after.machine - before.machine) / seconds
    used = {"workers": delta(ours) / seconds, "postgres": delta(postgres) / seconds if postgres else float("nan"),
            "redis": (after.redis - before.redis) / seconds, "generator": delta(here) / seconds}
    used["other"] = max(0.0, machine - sum(v for v in used.values() if math.isfinite(v)))
    used["machine"] = machine
    niced = [(p, v[2], after.procs[p][3] - before.procs[p][3]) for p, v in after.procs.items()
             if p in before.procs and p not in known and v[2] > 0]
    used["niced"] = sum(c for _, _, c in niced) / seconds
    used["niced_names"] = sorted({f"`{_command(p)}` (nice {nice})" for p, nice, c in niced if c / seconds > 0.05})
    return used
