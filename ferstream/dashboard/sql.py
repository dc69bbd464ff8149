"""SQL expressions that SQLite and PostgreSQL spell differently: floor and seconds since the epoch.

They let the dashboard group faces by time bucket inside the database.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class floor_int(FunctionElement):
    """The largest integer not above a number."""

    type = BigInteger()
    name = "floor_int"
    inherit_cache = True


@compiles(floor_int)
def _floor_int(element, compiler, **kw):
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(floor_int, "sqlite")
def _floor_int_sqlite(element, compiler, **kw):
    # SQLite has FLOOR only when built with its math functions; CAST truncates toward zero
    x = compiler.process(element.clauses, **kw)
    return f"(CAST(({x}) AS INTEGER) - (({x}) < CAST(({x}) AS INTEGER)))"


class epoch_seconds(FunctionElement):
    """Seconds since 1970-01-01 UTC of a timestamp column (SQLite: to the millisecond; it stores UTC text)."""

    type = Float()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_seconds(element, compiler, **kw):
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element, compiler, **kw):
    # julianday is a double of days: about 20 microseconds off; rounding to milliseconds makes whole
    # seconds exact (so a frame at 12:01:00 lands in the 12:01 bucket, not the one before)
    return f"ROUND((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0, 3)"
