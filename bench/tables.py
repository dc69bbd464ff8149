"""What a benchmark reports: its detail tables and its lines of the summary table, as Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Row:
    """One line of the summary table: a measure for ferstream and fer, and the issue's target."""

    benchmark: str
    measure: str
    ferstream: str
    fer: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    """A benchmark's result: detail tables (Markdown) and its lines of the summary table."""

    title: str
    details: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    def markdown(self) -> str:
        return "\n\n".join([f"## {self.title}", *self.details])


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(rows: list[Row]) -> str:
    mark = {True: "yes", False: "**no**", None: ""}
    return markdown_table(["benchmark", "measure", "ferstream", "fer", "target", "met"],
                          [[r.benchmark, r.measure, r.ferstream, r.fer, r.target, mark[r.met]] for r in rows])


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}{unit}"


def pct(share: float | None, digits: int = 1) -> str:
    """A share (0.953) as a percentage (``95.3%``), ``n/a`` for none."""
    return fmt(None if share is None else 100 * share, digits, "%")


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None
