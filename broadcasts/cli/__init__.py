"""The announcements' commands: `loa campaign|households|resident …` and `loa groups …`."""

from __future__ import annotations

import argparse

from bot.config import Settings
from bot.db.engine import Sessions
from broadcasts.cli import campaigns, groups

COMMANDS = frozenset({"campaign", "households", "resident", "groups"})


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the announcements' subcommands to the `loa` parser."""
    campaigns.add_parsers(sub)
    groups.add_parsers(sub)


async def run(args: argparse.Namespace, settings: Settings, sessions: Sessions) -> int:
    """Run one of COMMANDS; the exit code."""
    if args.command == "groups":
        return await groups.run(args, settings, sessions)
    return await campaigns.run(args, settings, sessions)
