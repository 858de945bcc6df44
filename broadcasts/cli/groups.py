"""`loa groups …`: the OA-owned Zalo groups of the hamlets and the commune, from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

import aiohttp

from bot.clock import SystemClock
from bot.config import Settings
from bot.db.engine import Sessions
from bot.oa.client import build_client
from bot.zalo.client import ZaloClient
from bot.zalo.errors import ZaloClientError
from bot.zalo.tokens import TokenPair
from broadcasts import groups
from broadcasts.groups import STATUS_WORDS, GroupError

ACCESS_TOKEN_LIFETIME = timedelta(hours=25)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `groups` command."""
    cmd = sub.add_parser("groups", help="the OA's Zalo groups of each hamlet and of the commune")
    gsub = cmd.add_subparsers(dest="groups_command", required=True)
    gsub.add_parser(
        "list", help="each hamlet's and the commune's group: id, name, status, members, link"
    )
    create = gsub.add_parser(
        "create", help="create the group of a hamlet (or of the commune) on a GMF asset"
    )
    _where(create)
    gsub.add_parser(
        "sync", help="fill in invite links and statuses from Zalo for the groups we know"
    )
    qr = gsub.add_parser("qr", help="the QR code of a group's invite link, as an .svg or .png file")
    _where(qr)
    qr.add_argument("--out", type=Path, required=True, metavar="FILE.svg|FILE.png")


def _where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hamlet", metavar="NAME", help='the hamlet, e.g. "Tân Lập" or "ấp tan lap"'
    )
    parser.add_argument(
        "--commune",
        nargs="?",
        const="",
        metavar="SLUG",
        help="alone: the commune's group (heads and officials); with a slug or name: which commune, "
        "when the OA serves several",
    )


async def run(
    args: argparse.Namespace,
    settings: Settings,
    sessions: Sessions,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    *,
    zalo: ZaloClient | None = None,
) -> int:
    """Run one `groups` command; Vietnamese output, exit 1 when refused (nothing changed then)."""
    try:
        if args.groups_command in ("create", "qr") and not args.hamlet and args.commune is None:
            raise GroupError(  # noqa: TRY301 - reported like every other refusal below
                "Hãy chọn nhóm: --hamlet TÊN_ẤP, hoặc --commune cho nhóm của xã."
            )
        if args.groups_command == "qr":
            return await _qr(args, sessions, out)
        if zalo is not None:
            return await _with_zalo(args, settings, sessions, zalo, out)
        async with cli_client(settings, sessions) as client:
            return await _with_zalo(args, settings, sessions, client, out)
    except GroupError as exc:
        print(str(exc), file=err)
        return 1
    except ZaloClientError as exc:
        print(f"Không làm được việc với Zalo lúc này: {exc}. Hãy thử lại sau ít phút.", file=err)
        return 1


async def _with_zalo(
    args: argparse.Namespace, settings: Settings, sessions: Sessions, zalo: ZaloClient, out: TextIO
) -> int:
    cmd = args.groups_command
    async with sessions() as session:
        if cmd == "list":
            _print_lines(await groups.list_lines(session, zalo), out)
            return 0
        if cmd == "create":
            owner = await groups.find_owner(
                session, hamlet=args.hamlet, commune=args.commune, lock=True
            )
            link = await groups.create_group(session, zalo, owner, SystemClock().now())
            await session.commit()
            print(f"Đã tạo nhóm Zalo cho {owner.label} (mã nhóm {owner.row.group_id}).", file=out)
            print(f"Đường dẫn mời: {link or '(Zalo chưa trả về, chạy: loa groups sync)'}", file=out)
            if not owner.is_commune:
                poster = settings.base_url + groups.POSTER_PATH.format(hamlet_id=owner.row.id)
                print(f"In áp phích mã QR tại: {poster}", file=out)
            return 0
        changes = await groups.sync_groups(session, zalo)
        await session.commit()
    if not changes:
        print("Chưa có nhóm nào trong cơ sở dữ liệu để đối chiếu.", file=out)
    for change in changes:
        status = STATUS_WORDS[change.status]
        if change.link_after != change.link_before:
            print(
                f"{change.owner}: đã cập nhật đường dẫn mời {change.link_after} ({status})",
                file=out,
            )
        else:
            print(f"{change.owner}: không đổi ({status})", file=out)
    return 0


async def _qr(args: argparse.Namespace, sessions: Sessions, out: TextIO) -> int:
    async with sessions() as session:
        owner = await groups.find_owner(session, hamlet=args.hamlet, commune=args.commune)
    link = owner.row.group_link
    if not link:
        raise GroupError(
            f"{owner.label} chưa có đường dẫn mời vào nhóm Zalo. "
            "Tạo nhóm (loa groups create) hoặc lấy đường dẫn từ Zalo (loa groups sync) trước."
        )
    groups.save_qr(link, args.out)
    print(f"Đã lưu mã QR của {owner.label} vào {args.out} ({link}).", file=out)
    return 0


def _print_lines(lines: list[groups.GroupLine], out: TextIO) -> None:
    for line in lines:
        members = "?" if line.members is None else str(line.members)
        print(f"{line.owner}", file=out)
        print(f"  Mã nhóm:       {line.group_id or '-'}", file=out)
        print(f"  Tên trên Zalo: {line.name or '-'}", file=out)
        print(f"  Trạng thái:    {STATUS_WORDS[line.status]}", file=out)
        print(f"  Thành viên:    {members}", file=out)
        print(f"  Đường dẫn mời: {line.link or '-'}", file=out)


@asynccontextmanager
async def cli_client(settings: Settings, sessions: Sessions) -> AsyncIterator[ZaloClient]:
    """A Zalo client for one command, on the token pair the service keeps in the database."""
    clock = SystemClock()
    async with aiohttp.ClientSession() as http:
        # No early refresh: rotating the pair is the running service's job; a command rotates only
        # when Zalo rejects the token, and then saves the new pair for the service to pick up.
        client, tokens, store = build_client(
            settings, http, sessions, clock, refresh_margin=timedelta(0)
        )
        if await store.load() is None:
            pair = await _first_pair(settings, http, clock.now())
            if pair is None:
                raise GroupError(
                    "Dịch vụ chưa kết nối với Zalo OA. Quản trị OA chạy: loa zalo connect"
                )
            await tokens.install(pair)
        yield client


async def _first_pair(
    settings: Settings, http: aiohttp.ClientSession, now: datetime
) -> TokenPair | None:
    """The pair from the environment, or the sandbox's console shortcut; None when neither exists."""
    if settings.zalo_access_token and settings.zalo_refresh_token:
        return TokenPair(
            settings.zalo_access_token, settings.zalo_refresh_token, now + ACCESS_TOKEN_LIFETIME
        )
    if settings.sandbox:
        try:
            async with http.get(f"{settings.zalo_api_base}/sandbox/api/tokens/initial") as resp:
                body = await resp.json()
        except aiohttp.ClientError as exc:
            raise GroupError(
                f"Không kết nối được tới Zalo thử nghiệm (sandbox) ở {settings.zalo_api_base}."
            ) from exc
        return TokenPair(body["access_token"], body["refresh_token"], now + ACCESS_TOKEN_LIFETIME)
    return None
