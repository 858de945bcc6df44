"""`loa` / `python -m bot`: load .env, build Settings, run the chosen command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from dotenv import load_dotenv

from bot.clock import SystemClock
from bot.config import ConfigError, Settings
from bot.db.engine import Sessions, make_engine, make_sessionmaker
from bot.directory import staff_cli
from broadcasts import cli as broadcasts_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loa", description="Loa Ấp: the commune's Zalo OA service"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="apply migrations and run the webhook server")
    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply every migration")
    faq = sub.add_parser("faq", help="the FAQ the bot answers from").add_subparsers(
        dest="faq_command", required=True
    )
    imp = faq.add_parser("import", help="upsert entries from a YAML file (all or nothing)")
    imp.add_argument("file", type=Path)
    faq.add_parser("match", help="one message per stdin line -> one JSON decision per line")
    faq.add_parser(
        "unanswered", help="what residents asked that the bot could not answer, grouped, counted"
    )
    zalo = sub.add_parser("zalo", help="the Zalo OA connection").add_subparsers(
        dest="zalo_command", required=True
    )
    zalo.add_parser(
        "connect", help="print the OA permission URL (PKCE) to grant this service access"
    )
    broadcasts_cli.add_parsers(sub)
    staff_cli.add_parsers(sub)
    sandbox = sub.add_parser("sandbox", help="run the Zalo sandbox platform on its own port")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8090)
    sandbox.add_argument("--webhook-url", required=True, help="where the sandbox delivers events")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `loa` console script."""
    args = _parser().parse_args(argv)
    load_dotenv(Path.cwd() / ".env")
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        print(
            "Cấu hình chưa đúng (sửa trong tệp .env hoặc biến môi trường, rồi chạy lại):",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "serve":
        return serve(settings)
    if args.command == "db":
        return upgrade(settings)
    if args.command == "faq" and args.faq_command == "import":
        return _with_db(settings, lambda sessions: faq_import(sessions, args.file))
    if args.command == "faq" and args.faq_command == "unanswered":
        out = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        try:
            return _with_db(settings, lambda sessions: faq_unanswered(sessions, out))
        finally:
            out.flush()
    if args.command == "faq":
        # UTF-8 views of the process's own streams (closefd=False: they stay open after us).
        stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        stdout = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        try:
            return _with_db(settings, lambda sessions: faq_match(sessions, stdin, stdout))
        finally:
            stdout.flush()
    if args.command == "staff":
        clock = SystemClock()
        return _with_db(
            settings, lambda sessions: staff_cli.run(args, sessions, clock.now(), sys.stdout)
        )
    if args.command in broadcasts_cli.COMMANDS:
        return _with_db(settings, lambda sessions: broadcasts_cli.run(args, settings, sessions))
    if args.command == "zalo":
        return _with_db(settings, lambda sessions: zalo_connect(settings, sessions))
    return sandbox(args.host, args.port, args.webhook_url)


def upgrade(settings: Settings) -> int:
    """Apply migrations to LOA_DATABASE_URL."""
    from bot.db.migrate import upgrade as run_upgrade

    run_upgrade(settings.database_url)
    return 0


def serve(settings: Settings) -> int:
    """Take the port, apply migrations, then serve until interrupted."""
    from aiohttp import web

    from bot.app import create_app

    # The port first: when it cannot be had, nothing is migrated, seeded or started.
    try:
        sockets = listening_sockets(settings.host, settings.port)
    except OSError as exc:
        print(port_problem(settings.host, settings.port, exc), file=sys.stderr)
        return 1
    upgrade(settings)
    web.run_app(
        create_app(settings),
        sock=sockets,
        access_log=logging.getLogger("aiohttp.access") if settings.log_level == "DEBUG" else None,
        print=None,  # the runtime logs its own start-up summary
    )
    return 0


def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """Bound, listening sockets on every address the host names, as aiohttp would open them."""
    found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # "::" alone, so "0.0.0.0" on the same port still binds
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)  # now, not when serving starts: a port in use is found here
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def port_problem(host: str, port: int, exc: OSError) -> str:
    """One line for the official when LOA_HOST:LOA_PORT cannot be had, saying what to change."""
    where = f"Cổng {port} trên {host or 'mọi địa chỉ'}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where} đang được dùng bởi chương trình khác; "
            "đặt LOA_PORT khác hoặc tắt chương trình kia."
        )
    if exc.errno == errno.EACCES:
        return f"{where} cần quyền quản trị (cổng dưới 1024); đặt LOA_PORT khác, ví dụ 8080."
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"Máy này không có địa chỉ {host}; sửa LOA_HOST "
            "(127.0.0.1 cho riêng máy này, 0.0.0.0 cho mọi địa chỉ)."
        )
    return f"Không mở được {where.lower()} (lỗi hệ thống số {exc.errno}); đặt LOA_PORT khác."


def _with_db(settings: Settings, body: Callable[[Sessions], Awaitable[int]]) -> int:
    """Migrate, open the database, run an async command, close."""
    upgrade(settings)

    async def run() -> int:
        engine = make_engine(settings.database_url)
        try:
            return await body(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def faq_import(sessions: Sessions, path: Path) -> int:
    """`loa faq import FILE`."""
    from bot.chat.faq.commands import faq_import_command

    return await faq_import_command(sessions, path, sys.stdout, SystemClock().now())


async def faq_match(sessions: Sessions, stdin: TextIO, stdout: TextIO) -> int:
    """`loa faq match`: UTF-8 in and out, whatever the terminal's locale."""
    from bot.chat.faq.commands import faq_match_command

    return await faq_match_command(sessions, stdin, stdout)


async def faq_unanswered(sessions: Sessions, out: TextIO) -> int:
    """`loa faq unanswered`: UTF-8 out, whatever the terminal's locale."""
    from bot.chat.faq.commands import faq_unanswered_command

    return await faq_unanswered_command(sessions, out)


async def zalo_connect(settings: Settings, sessions: Sessions) -> int:
    """`loa zalo connect`: print the OA permission URL."""
    from bot.oa.oauth_routes import begin_connect, redirect_uri

    async with sessions() as session:
        url = await begin_connect(session, settings, SystemClock().now())
    print("Mở đường dẫn sau bằng tài khoản quản trị OA và bấm Cho phép:")
    print(url)
    print(
        f"(Zalo sẽ chuyển về {redirect_uri(settings)}; địa chỉ này phải khai báo trong trang ứng dụng Zalo.)"
    )
    return 0


def sandbox(host: str, port: int, webhook_url: str) -> int:
    """`loa sandbox`: the Zalo sandbox platform on its own port."""
    from bot.sandbox.api import serve_sandbox

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_sandbox(host, port, webhook_url))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
