"""The one command line: ``ferstream <command>``, one module per family of commands.

Each module adds its commands to the parser (``register``) and runs them; a command imports its stage only when it
runs, so ``ferstream --help`` is instant. What several commands share (argument types, common flags, the settings)
is in ``options``; what they print about finished sources, in ``summary``.
"""

from __future__ import annotations

import argparse
import sys

from ferstream import __version__
from ferstream.cli import analyze, dashboard, events, export, maintenance, server, training, watch, worker

#: the families, each adding its commands
FAMILIES = (analyze, watch, worker, maintenance, events, export, dashboard, server, training)

#: the commands in the order ``ferstream --help`` lists them
COMMANDS = ("analyze", "watch", "demo", "worker", "prune", "events", "status", "export", "annotate", "dashboard",
            "serve", "apikey", "cameras", "train", "ensemble", "evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferstream",
        description="Find faces in video and tell which of seven emotions each one shows.",
    )
    parser.add_argument("--version", action="version", version=f"ferstream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for family in FAMILIES:
        family.register(sub)
    _in_order(sub, COMMANDS)
    for command in sub.choices.values():
        command.add_argument("-v", "--verbose", action="store_true",
                             help="also show debug lines and the native libraries' own logs (OpenCV, FFmpeg, LiteRT)")
    return parser


def _in_order(sub, names: tuple[str, ...]) -> None:
    """List the commands in ``names``' order (help, and an unknown command's error), whichever family added them."""
    if sorted(sub.choices) != sorted(names):
        raise AssertionError(f"commands {sorted(sub.choices)} are not the ones listed: {sorted(names)}")
    parsers = dict(sub.choices)
    sub.choices.clear()  # the action's own mapping: argparse looks commands up in it
    sub.choices.update((name, parsers[name]) for name in names)
    sub._choices_actions.sort(key=lambda action: names.index(action.dest))  # the help's list (argparse keeps no other)


def main(argv: list[str] | None = None) -> int:
    import os

    from ferstream.native_logs import VERBOSE_ENV

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"  # the processes this command starts (a worker pool, the dashboard) inherit it
    try:
        status = args.handler(args)
        sys.stdout.flush()  # what is still buffered meets a closed pipe here, not at exit
    except BrokenPipeError:
        return quiet_on_a_closed_pipe()
    return status


#: the exit status of a command whose reader went away (`ferstream cameras list | head`): as a shell reports a tool
#: SIGPIPE ended (128 + 13)
CLOSED_PIPE_STATUS = 141


def quiet_on_a_closed_pipe() -> int:
    """The reader of stdout has gone (``| head``): stop quietly, no traceback, and nothing more written (the
    interpreter's own flush at exit would meet the closed pipe again, so stdout goes to /dev/null)."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return CLOSED_PIPE_STATUS
