"""The OA-owned Zalo groups of the commune and its hamlets: create, list, sync, posters, membership."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import segno
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import from_epoch_ms
from bot.directory.hamlet_names import HamletNames
from bot.directory.models import Commune, Hamlet, Staff, StaffRole
from bot.directory.people import UnknownCommune, select_commune
from bot.keys import RUNTIME
from bot.outbound.outbox import failure_reason
from bot.web.pages import message_page
from bot.zalo.client import ZaloClient
from bot.zalo.errors import ZaloClientError, ZaloError
from broadcasts.models import GroupMember

log = logging.getLogger(__name__)

POSTER_PATH = "/groups/{hamlet_id}/poster"
HAMLET_PRODUCTS = (
    "gmf1000",
)  # a hamlet group outgrows 100 members: only the 1,000-member tier fits
COMMUNE_PRODUCTS = (
    "gmf100",
    "gmf1000",
)  # heads and officials fit in 100; the smallest that fits first
MAX_INITIAL_MEMBERS = 99  # creategroupwithoa takes 1-99 initial members
QR_ERROR_LEVEL = "m"  # survives a smudged or sun-faded print
STATUS_WORDS = {
    "enabled": "đang hoạt động",
    "disabled": "đã khoá (gói nhóm hết hạn)",
    "missing": "chưa có nhóm",
    "not_in_group": "OA không còn trong nhóm",
    "unknown": "không đọc được",
}


class GroupError(Exception):
    """A group command cannot go ahead; the message is Vietnamese, for the official who ran it."""


@dataclass
class GroupOwner:
    """A hamlet or the commune: the place one OA-owned group belongs to."""

    row: Hamlet | Commune
    label: str  # how officials name it: "Ấp Tân Lập", or "xã (Xã Tân Hòa)"

    @property
    def is_commune(self) -> bool:
        """True for the commune's own group (heads and officials), False for a hamlet's."""
        return isinstance(self.row, Commune)


@dataclass(frozen=True)
class GroupLine:
    """One line of `loa groups list`: a place and what Zalo says of its group."""

    owner: str
    group_id: str | None
    name: str
    status: str  # a key of STATUS_WORDS
    members: int | None
    link: str | None


@dataclass(frozen=True)
class SyncChange:
    """What `loa groups sync` learned about one group the database names."""

    owner: str
    group_id: str
    status: str  # a key of STATUS_WORDS
    link_before: str | None
    link_after: str | None


# ------------------------------------------------------------------------ finding the places


async def owners(session: AsyncSession) -> list[GroupOwner]:
    """Every commune, each followed by its hamlets, in a stable order."""
    communes = (await session.scalars(select(Commune).order_by(Commune.id))).all()
    several = len(communes) > 1
    found: list[GroupOwner] = []
    for commune in communes:
        hamlets = (
            await session.scalars(
                select(Hamlet).where(Hamlet.commune_id == commune.id).order_by(Hamlet.id)
            )
        ).all()
        found.append(_commune_owner(commune))
        found.extend(
            GroupOwner(h, f"{h.name} ({commune.name})" if several else h.name) for h in hamlets
        )
    return found


async def find_owner(
    session: AsyncSession,
    *,
    hamlet: str | None = None,
    commune: str | None = None,
    lock: bool = False,
) -> GroupOwner:
    """A hamlet by name (diacritics and the hamlet word optional), else the commune; GroupError if none.

    `commune` is a slug or name, needed only when the OA serves several communes.
    """
    try:
        found = await select_commune(session, commune or None)
    except UnknownCommune as exc:
        raise GroupError(str(exc)) from exc
    if not hamlet:
        if lock:
            await session.refresh(found, with_for_update=True)
        return _commune_owner(found)
    query = select(Hamlet).where(Hamlet.commune_id == found.id).order_by(Hamlet.id)
    if lock:
        query = query.with_for_update()
    rows = (await session.scalars(query)).all()
    row = HamletNames(rows).find(hamlet)
    if row is not None:
        return GroupOwner(row, row.name)
    known = ", ".join(r.name for r in rows) or "chưa có"
    word = found.hamlet_word
    raise GroupError(f"{found.name} không có {word} '{hamlet}'. Các {word} của xã: {known}.")


def _commune_owner(commune: Commune) -> GroupOwner:
    return GroupOwner(commune, f"xã ({commune.name})")


# ----------------------------------------------------------------------------- the Zalo side


async def group_assets(zalo: ZaloClient, product_type: str) -> list[dict[str, Any]]:
    """The OA's GMF assets of one tier (POST /v3.0/oa/quota/group)."""
    body = {"quota_owner": "OA", "product_type": product_type}
    # The client has no quota method for groups yet; this is the one call it lacks.
    data = await zalo._call("POST", "/v3.0/oa/quota/group", json_body=body, priority=False)
    if isinstance(
        data, dict
    ):  # the doc does not fix the envelope: a bare list or {assets|data: [...]}
        data = data.get("assets") or data.get("data") or []
    return [a for a in data if isinstance(a, dict)] if isinstance(data, list) else []


async def available_asset(zalo: ZaloClient, products: tuple[str, ...], now: datetime) -> str | None:
    """The id of an available, unexpired GMF asset of the first tier in `products` that has one."""
    for product in products:
        for asset in await group_assets(zalo, product):
            if (
                asset.get("status") != "available"
                or asset.get("used_id")
                or not asset.get("asset_id")
            ):
                continue
            valid = str(asset.get("valid_through") or "")
            if valid.isdigit() and from_epoch_ms(valid) <= now:
                continue
            return str(asset["asset_id"])
    return None


async def member_count(zalo: ZaloClient, group_id: str) -> int:
    """How many users (not the OA itself) listmember shows, page by page."""
    count, offset = 0, 0
    while True:
        page = await zalo.group_members(group_id, offset, 50)
        members = [m for m in page.get("members") or [] if isinstance(m, dict)]
        count += sum(1 for m in members if m.get("user_id"))
        offset += len(members)
        if not members or offset >= int(page.get("total") or 0):
            return count


async def oa_groups(zalo: ZaloClient) -> dict[str, dict[str, Any]]:
    """Every group getgroupsofoa lists, by group_id."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = await zalo.list_groups(offset, 50)
        groups = [g for g in page.get("groups") or [] if isinstance(g, dict) and g.get("group_id")]
        found.update({str(g["group_id"]): g for g in groups})
        offset += len(groups)
        if not groups or offset >= int(page.get("total") or 0):
            return found


def _status_of(exc: ZaloClientError) -> str:
    code = exc.code if isinstance(exc, ZaloError) else None
    return {-237: "disabled", -403: "not_in_group", -201: "missing"}.get(code or 0, "unknown")


# ------------------------------------------------------------------------------ the commands


async def list_lines(session: AsyncSession, zalo: ZaloClient) -> list[GroupLine]:
    """Each place's group as Zalo shows it now (the database's link when Zalo has none)."""
    lines = []
    for owner in await owners(session):
        group_id = owner.row.group_id
        if not group_id:
            lines.append(GroupLine(owner.label, None, "", "missing", None, owner.row.group_link))
            continue
        try:
            info = (await zalo.group_detail(group_id)).get("group_info") or {}
            members = await member_count(zalo, group_id)
        except ZaloClientError as exc:
            log.warning("group %s of %s: %s", group_id, owner.label, exc)
            lines.append(
                GroupLine(owner.label, group_id, "", _status_of(exc), None, owner.row.group_link)
            )
            continue
        status = "enabled" if info.get("status", "enabled") == "enabled" else "disabled"
        link = str(info.get("group_link") or owner.row.group_link or "") or None
        lines.append(
            GroupLine(owner.label, group_id, str(info.get("name") or ""), status, members, link)
        )
    return lines


async def initial_members(session: AsyncSession, owner: GroupOwner) -> list[str]:
    """Who starts in a new group: a hamlet's head and digital team, or the commune's active staff."""
    query = select(Staff).where(Staff.active.is_(True), Staff.commune_id == _commune_id(owner))
    if not owner.is_commune:  # the commune group takes every active staff member
        roles = [StaffRole.HAMLET_HEAD, StaffRole.DIGITAL_TEAM]
        query = query.where(Staff.hamlet_id == owner.row.id, Staff.role.in_(roles))
    ids: list[str] = []
    for staff in (await session.scalars(query.order_by(Staff.id))).all():
        if staff.zalo_user_id and staff.zalo_user_id not in ids:
            ids.append(staff.zalo_user_id)
    return ids[:MAX_INITIAL_MEMBERS]


def _commune_id(owner: GroupOwner) -> int:
    return owner.row.id if isinstance(owner.row, Commune) else owner.row.commune_id


async def create_group(
    session: AsyncSession, zalo: ZaloClient, owner: GroupOwner, now: datetime
) -> str:
    """Create the place's group on an available GMF asset and store its id and link; returns the link.

    Refuses (GroupError, nothing changed) when the place already has a group, when no asset is
    available, or when nobody can be an initial member. The caller commits.
    """
    if owner.row.group_id:
        raise GroupError(
            f"{_cap(owner.label)} đã có nhóm Zalo (mã {owner.row.group_id}); không tạo thêm nhóm thứ hai. "
            "Xem đường dẫn mời bằng lệnh: loa groups list"
        )
    members = await initial_members(session, owner)
    if not members:
        who = "cán bộ" if owner.is_commune else "trưởng ấp hoặc thành viên tổ công nghệ số"
        raise GroupError(
            f"{_cap(owner.label)} chưa có {who} nào có tài khoản Zalo để làm thành viên đầu tiên của nhóm."
        )
    products = COMMUNE_PRODUCTS if owner.is_commune else HAMLET_PRODUCTS
    try:
        asset_id = await available_asset(zalo, products, now)
    except ZaloClientError as exc:
        raise GroupError(f"Không hỏi được Zalo về gói nhóm chat: {_reason(exc)}") from exc
    if asset_id is None:
        size = "100" if owner.is_commune else "1.000"
        raise GroupError(
            f"OA chưa có gói nhóm chat (GMF) nào còn trống cho nhóm đến {size} thành viên "
            f"({' hoặc '.join(products)}). Quản trị xã cần mua hoặc gia hạn gói nhóm trên trang "
            "quản lý OA (oa.zalo.me), rồi chạy lại lệnh này."
        )
    commune = await session.get(Commune, _commune_id(owner))
    assert commune is not None  # hamlets.commune_id is a foreign key
    if owner.is_commune:
        name = f"{commune.name} - Cán bộ và trưởng {commune.hamlet_word}"
        description = f"Nhóm của cán bộ {commune.name} và các trưởng {commune.hamlet_word}."
    else:
        name = f"{owner.row.name} - {commune.name}"
        description = (
            f"Nhóm thông báo chính thức của {owner.row.name}, {commune.name}. "
            "Xã không bao giờ hỏi mã OTP, mật khẩu hay yêu cầu chuyển tiền."
        )
    try:
        created = await zalo.create_group(name, asset_id, members, description)
    except ZaloClientError as exc:
        raise GroupError(f"Zalo không tạo được nhóm: {_reason(exc)}") from exc
    group_id, link = created.get("group_id"), created.get("group_link")
    if not group_id:
        raise GroupError(
            "Zalo trả lời không có mã nhóm; hãy kiểm tra trên trang quản lý OA trước khi thử lại."
        )
    # Logged before the commit: should storing fail, the new group id is still on record for a person.
    log.info("created group %s (%s) for %s on asset %s", group_id, name, owner.label, asset_id)
    owner.row.group_id = str(group_id)
    owner.row.group_link = str(link) if link else None
    for user_id in members:
        await record_membership(session, str(group_id), user_id, joined=True, at=now)
    return owner.row.group_link or ""


async def sync_groups(session: AsyncSession, zalo: ZaloClient) -> list[SyncChange]:
    """Fill in links (and read statuses) of the groups the database names, from getgroupsofoa/getgroup."""
    listed = await oa_groups(zalo)
    changes = []
    for owner in await owners(session):
        group_id = owner.row.group_id
        if not group_id:
            continue
        info = listed.get(group_id)
        status = "unknown"
        if info is None or not info.get("group_link"):
            try:
                info = (await zalo.group_detail(group_id)).get("group_info") or info
            except ZaloClientError as exc:
                log.warning("group %s of %s: %s", group_id, owner.label, exc)
                status = _status_of(exc)
        before = owner.row.group_link
        if info:
            status = "enabled" if info.get("status", "enabled") == "enabled" else "disabled"
            link = info.get("group_link")
            if isinstance(link, str) and link and link != before:
                owner.row.group_link = link
        changes.append(SyncChange(owner.label, group_id, status, before, owner.row.group_link))
    return changes


def _reason(exc: ZaloClientError) -> str:
    if isinstance(exc, ZaloError):
        return failure_reason(exc.code, exc.message)
    return "không kết nối được tới Zalo, hãy thử lại sau ít phút"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# -------------------------------------------------------------------------------- membership


async def record_membership(
    session: AsyncSession, group_id: str, user_id: str, *, joined: bool, at: datetime
) -> None:
    row = await session.scalar(
        select(GroupMember).where(
            GroupMember.group_id == group_id, GroupMember.zalo_user_id == user_id
        )
    )
    if row is None:
        row = GroupMember(group_id=group_id, zalo_user_id=user_id)
        session.add(row)
    latest = max((t for t in (row.joined_at, row.left_at) if t is not None), default=None)
    if latest is not None and at < latest:
        return  # an older event arriving late (a Zalo retry) must not undo a newer one
    if joined:
        row.joined_at, row.left_at = at, None
    else:
        row.left_at = at
    await session.flush()


# ---------------------------------------------------------------------------- QR and poster


def qr_code(link: str) -> segno.QRCode:
    """The QR code of an invite link, made locally (no network)."""
    return segno.make(link, error=QR_ERROR_LEVEL, micro=False)


def qr_svg(link: str) -> str:
    """An inline <svg> of the link's QR code, sized by the page's CSS."""
    svg = qr_code(link).svg_inline(
        scale=8, border=4, dark="#000", light="#fff", title=link, omitsize=True
    )
    return str(svg)


def save_qr(link: str, path: Path) -> None:
    """Write the link's QR code as .svg or .png (large enough to print); GroupError on other types."""
    kind = path.suffix.lower()
    if kind not in (".svg", ".png"):
        raise GroupError(f"Tệp '{path.name}' phải có đuôi .svg hoặc .png.")
    qr_code(link).save(str(path), kind=kind[1:], scale=16 if kind == ".png" else 8, border=4)


@lru_cache(maxsize=4)
def _admin_templates(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir / "admin"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


async def render_poster(session: AsyncSession, templates_dir: Path, hamlet_id: int) -> str | None:
    """The printable poster of a hamlet's group, or None when the hamlet or its link is missing."""
    hamlet = await session.get(Hamlet, hamlet_id)
    if hamlet is None or not hamlet.group_link:
        return None
    commune = await session.get(Commune, hamlet.commune_id)
    template = _admin_templates(templates_dir).get_template("group_poster.html")
    return template.render(
        hamlet=hamlet.name,
        commune=commune.name if commune else "",
        hamlet_word=commune.hamlet_word if commune else "ấp",
        link=hamlet.group_link,
        qr=Markup(qr_svg(hamlet.group_link)),
    )


async def poster_page(request: web.Request) -> web.Response:
    """GET /groups/{hamlet_id}/poster: the A4 notice-board poster with the group's QR code."""
    rt = request.app[RUNTIME]
    try:
        hamlet_id = int(request.match_info["hamlet_id"])
    except ValueError:
        hamlet_id = 0
    async with rt.sessions() as session:
        page = (
            await render_poster(session, rt.settings.templates_dir, hamlet_id)
            if hamlet_id
            else None
        )
    if page is None:
        return message_page(
            request,
            "Chưa có nhóm Zalo",
            ["Không tìm thấy ấp này, hoặc ấp chưa có nhóm Zalo. Cán bộ xã tạo nhóm bằng lệnh:"],
            status=404,
            heading="Chưa in được áp phích",
            command="loa groups create --hamlet TÊN",
        )
    return web.Response(text=page, content_type="text/html")
