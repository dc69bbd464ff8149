"""``ferstream dashboard``: the Streamlit dashboard over the results database."""

from __future__ import annotations

import argparse

from ferstream.cli.options import add_detector, add_services, int_at_least, settings_of
from ferstream.console import run_command


def register(sub) -> None:
    """dashboard."""
    p = sub.add_parser("dashboard", help="the Streamlit dashboard: emotions over time, per source, live",
                       description="Serve the dashboard over the results database. It shows analytics about people: "
                                   "it listens on 127.0.0.1 only unless --host says otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int_at_least(1, 65535), default=8501, help="default: %(default)s")
    add_detector(p)
    add_services(p)
    p.set_defaults(handler=_dashboard)


def _dashboard(args: argparse.Namespace) -> int:
    from ferstream.dashboard.server import serve

    return run_command(lambda: serve(settings_of(args), host=args.host, port=args.port))
