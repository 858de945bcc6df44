"""The README's command table lists every command `loa` has, so an admin finds each one there."""

from __future__ import annotations

import argparse
import re

from bot.__main__ import _parser
from tests.service import REPO


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every runnable command, as the words after `loa`: ("serve",), ("groups", "create"), …"""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(commands(sub, (*path, name)))
    return found or [path]


def documented() -> set[tuple[str, ...]]:
    """The commands the README's table names: "`loa campaign list` / `show ID`" names two."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## Commands") :]
    table = table[: table.index("\n## ")]
    named: set[tuple[str, ...]] = set()
    for row in table.splitlines():
        if not row.startswith("| `loa "):
            continue
        first, *others = re.findall(r"`([^`]+)`", row[2:].split(" | ")[0])
        words = first.split()[1:]
        named.add((words[0],))
        for sub in [words[1:2], *(o.split()[:1] for o in others)]:
            if sub and not sub[0].startswith("-"):
                named.add((words[0], sub[0]))
    return named


def test_every_loa_command_is_in_the_readmes_command_table() -> None:
    missing = [" ".join(c) for c in commands(_parser()) if c not in documented()]
    assert missing == []
