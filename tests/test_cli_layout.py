"""The command line in a package of its own (ferstream/cli/): small modules, one per family of commands, building
the same commands as before the move."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import CLI

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ferstream" / "cli"

#: the commands `ferstream --help` lists, in its order (as before the commands moved into ferstream/cli/)
COMMANDS = ["analyze", "watch", "demo", "worker", "prune", "events", "status", "export", "annotate", "dashboard",
            "serve", "apikey", "cameras", "train", "ensemble", "evaluate"]
#: the actions of the commands that have some
ACTIONS = {"events": ["list", "export", "deliveries", "deliver"], "apikey": ["create", "list", "revoke"],
           "cameras": ["add", "list", "remove"]}
#: the longest a module of ferstream/cli/ may grow
MOST_LINES = 350


def test_every_module_of_the_cli_is_small():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 10, modules
    long = {m.name: n for m in modules if (n := len(m.read_text().splitlines())) >= MOST_LINES}
    assert not long, f"modules of ferstream/cli/ with {MOST_LINES} lines or more: {long}"


def test_the_commands_live_in_the_cli_package_only():
    """No command module is left at the top of the package, and the console script is the package's main."""
    for old in ("cli.py", "commands.py", "event_commands.py"):
        assert not (ROOT / "ferstream" / old).exists(), old
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["ferstream"] == "ferstream.cli:main"


def test_help_lists_the_same_commands_as_before():
    done = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("  COMMAND\n", 1)[1].split("\n\n", 1)[0]  # "    analyze   analyse video files ..."
    names = [line.split()[0] for line in listed.splitlines() if re.match(r" {4}\S", line)]
    assert names == COMMANDS


def test_an_unknown_command_names_every_command_in_order():
    done = subprocess.run([*CLI, "nope"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"choose from {', '.join(repr(c) for c in COMMANDS)}" in done.stderr


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_family_registers_its_commands_and_each_answers_help(capsys):
    from ferstream.cli import build_parser, main

    commands = _subcommands(build_parser())
    assert list(commands) == COMMANDS
    for command, actions in ACTIONS.items():
        assert list(_subcommands(commands[command])) == actions
    for argv in [[c] for c in COMMANDS] + [[c, a] for c, names in ACTIONS.items() for a in names]:
        with pytest.raises(SystemExit) as done:
            main([*argv, "--help"])
        assert done.value.code == 0, argv
        assert capsys.readouterr().out.startswith(f"usage: ferstream {' '.join(argv)} ")
