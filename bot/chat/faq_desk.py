"""The FAQ on the desk: the entries and their sources, the "thử câu hỏi" box, drafts and publishing.

An edit is a draft (`FaqDraft`) until it is published: the bot answers only from `faq_entries`, so
it never answers from a half-written entry. Publishing checks the entry with the import's rules
(`parse_items`), writes it, audits it, and rebuilds the matcher of this process at once (the others
within a minute). The try box asks the same `FaqBook.decide` the bot asks.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import yaml
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.faq.loader import FaqImportError, FaqItem, import_faq, parse_items, read_faq
from bot.chat.faq.topics import TOPIC_NAMES, topic_name
from bot.chat.models import FaqDraft
from bot.chat.unanswered import mark_handled, unanswered_groups
from bot.clock import VN_TZ
from bot.directory.models import AuditEntry
from bot.directory.roles import Action, can
from bot.keys import RUNTIME
from bot.text import fold
from bot.web.auth import desk_of, desk_page
from bot.web.desk import NAV, NavItem, refuse, render_desk
from bot.web.uploads import receive_file

PATH = "/admin/faq"
MAX_UPLOAD = (
    5 * 1024 * 1024
)  # the bundled FAQ is 60 kB; a commune's own is not a hundred times more
CHECK_EVERY = timedelta(days=365)  # an answer not checked for a year is flagged
OUTCOMES = {
    "answer": "trả lời bằng mục này",
    "clarify": "hỏi lại: đưa các lựa chọn cho người dân chọn",
    "fallback": "chưa trả lời được: chuyển cho cán bộ",
}
FIELDS = ("topic", "questions", "keywords", "answer", "source", "checked")
FIELD_LABELS = {
    "id": "mã mục",
    "topic": "chủ đề",
    "questions": "các cách hỏi",
    "keywords": "từ khoá",
    "answer": "câu trả lời",
    "source": "nguồn",
}


def _overdue(checked: date | None, today: date) -> bool:
    return checked is None or today - checked > CHECK_EVERY


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@desk_page
async def faq_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/faq: the entries (`q` searches them), drafts, and the try box (`thu`)."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    if not can(staff, Action.SEE_FAQ):
        return await refuse(request, "câu hỏi thường gặp")
    q = request.query.get("q", "").strip()[:100]
    tried = request.query.get("thu", "").strip()[:500]
    today = rt.clock.now().date()
    entries = rt.faq.entries()
    if q:
        wanted = fold(q)
        entries = [
            e
            for e in entries
            if wanted in fold(" ".join([e.id, e.topic, e.answer, *e.questions, *e.keywords]))
        ]
    async with rt.sessions() as session:
        drafts = (await session.scalars(select(FaqDraft).order_by(FaqDraft.entry_id))).all()
    decision = None
    if tried:
        made = await rt.faq.decide_off_loop(tried)
        decision = {
            "outcome": OUTCOMES.get(made.outcome, made.outcome),
            "kind": made.outcome,
            "score": f"{made.score:.2f}",
            "entry": rt.faq.entry(made.entry_id) if made.entry_id else None,
            "alternatives": [
                (rt.faq.entry(a.id), f"{a.score:.2f}")
                for a in made.alternatives
                if rt.faq.has(a.id)
            ],
        }
    return render_desk(
        request,
        "faq.html",
        {
            "title": "Câu hỏi thường gặp",
            "entries": [(e, _overdue(e.checked, today)) for e in entries],
            "drafts": drafts,
            "q": q,
            "tried": tried,
            "decision": decision,
            "may_edit": can(staff, Action.EDIT_FAQ),
            "overdue": sum(_overdue(e.checked, today) for e in rt.faq.entries()),
        },
    )


def _form_of(item: FaqItem | FaqDraft | None, entry_id: str = "") -> dict[str, str]:
    if item is None:
        return {"id": entry_id, **{k: "" for k in FIELDS}}
    return {
        "id": item.id if isinstance(item, FaqItem) else item.entry_id,
        "topic": item.topic,
        "questions": "\n".join(item.questions),
        "keywords": "\n".join(item.keywords),
        "answer": item.answer,
        "source": item.source,
        "checked": item.checked.strftime("%d/%m/%Y") if item.checked else "",
    }


async def _entry_page(
    request: web.Request,
    session: AsyncSession,
    entry_id: str,
    *,
    typed: dict[str, str] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> web.Response:
    rt = request.app[RUNTIME]
    published = rt.faq.entry(entry_id) if entry_id and rt.faq.has(entry_id) else None
    draft = await session.get(FaqDraft, entry_id) if entry_id else None
    done = request.query.get("done", "")
    return render_desk(
        request,
        "faq_entry.html",
        {
            "title": published.questions[0] if published else "Mục mới",
            "topics": TOPIC_NAMES,
            "entry_id": entry_id,
            "published": published,
            "draft": draft,
            "f": typed or _form_of(draft or published, entry_id),
            "problems": problems or [],
            "may_edit": can(desk_of(request).staff, Action.EDIT_FAQ),
            "overdue": published is not None and _overdue(published.checked, rt.clock.now().date()),
            "done": done if done in ("draft", "published", "discarded") else "",
        },
        status=status,
    )


@desk_page
async def entry_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/faq/{id}: the published entry, its draft if any, and the form (for editors)."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    entry_id = request.match_info["id"]
    if not can(staff, Action.SEE_FAQ):
        return await refuse(request, f"mục {entry_id}")
    async with rt.sessions() as session:
        if not rt.faq.has(entry_id) and await session.get(FaqDraft, entry_id) is None:
            return await refuse(request, f"mục {entry_id}")
        phrasing = request.query.get("them", "").strip()[:500]
        if not phrasing:
            return await _entry_page(request, session, entry_id)
        # From the unanswered questions: the entry's form with this phrasing added at the end.
        draft = await session.get(FaqDraft, entry_id)
        typed = _form_of(draft or rt.faq.entry(entry_id), entry_id)
        if fold(phrasing) not in {fold(q) for q in typed["questions"].splitlines()}:
            typed["questions"] = (typed["questions"] + "\n" + phrasing).strip()
        return await _entry_page(request, session, entry_id, typed=typed)


@desk_page
async def new_entry(request: web.Request) -> web.StreamResponse:
    """GET /admin/faq/new: an empty form; `q` fills in the first phrasing (from the try box)."""
    rt = request.app[RUNTIME]
    if not can(desk_of(request).staff, Action.EDIT_FAQ):
        return await refuse(request, "mục mới")
    typed = _form_of(None)
    typed["questions"] = request.query.get("q", "").strip()[:500]
    async with rt.sessions() as session:
        return await _entry_page(request, session, "", typed=typed)


def _item_from(typed: dict[str, str], problems: list[str]) -> FaqItem | None:
    """The typed entry as the import would read it, or None with the problems."""
    checked: date | str | None = None
    if typed["checked"]:
        try:
            day, month, year = (int(x) for x in typed["checked"].replace("-", "/").split("/"))
            checked = date(year, month, day)
        except ValueError:
            problems.append("Ngày kiểm tra phải viết dạng ngày/tháng/năm, ví dụ 30/11/2026.")
            return None
    raw = {
        "id": typed["id"],
        "topic": typed["topic"],
        "questions": _lines(typed["questions"]),
        "keywords": _lines(typed["keywords"]),
        "answer": typed["answer"],
        "source": typed["source"],
        "checked": checked,
    }
    try:
        return parse_items([raw])[0]
    except FaqImportError as exc:
        # The import names the entry by its position in a file, and fields by their names in it;
        # here there is only this one entry, and the fields carry the form's labels.
        for problem in exc.problems:
            text = problem.split(": ", 1)[-1]
            for name, label in FIELD_LABELS.items():
                text = text.replace(f"'{name}'", label)
            problems.append(text[0].upper() + text[1:])
        return None


def _audit(request: web.Request, session: AsyncSession, entry_id: str, status: str) -> None:
    rt = request.app[RUNTIME]
    session.add(
        AuditEntry(
            at=rt.clock.now(),
            actor_staff_id=desk_of(request).staff.id,
            entity="faq",
            entity_id=0,
            to_status=status,
            note=entry_id[:500],
        )
    )


@desk_page
async def save_entry(request: web.Request) -> web.StreamResponse:
    """POST /admin/faq/save: `do` is "draft", "publish" or "discard"; the fields of the entry."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    if not can(desk.staff, Action.EDIT_FAQ):
        return await refuse(request, "sửa câu hỏi thường gặp")
    form = await request.post()
    typed = {k: str(form.get(k, "")).strip()[:5000] for k in ("id", *FIELDS)}
    do = str(form.get("do", ""))
    now = rt.clock.now()
    async with rt.sessions() as session:
        entry_id = typed["id"]
        draft = await session.get(FaqDraft, entry_id) if entry_id else None
        if do == "discard":
            if draft is not None:
                await session.delete(draft)
                _audit(request, session, entry_id, "draft_discarded")
                await session.commit()
            target = f"{PATH}/{quote(entry_id)}?done=discarded" if rt.faq.has(entry_id) else PATH
            raise web.HTTPSeeOther(target)
        problems: list[str] = []
        item = _item_from(typed, problems)
        if item is None or do not in ("draft", "publish"):
            if do not in ("draft", "publish"):
                problems.append("Xin chọn Lưu bản nháp hoặc Đăng.")
            return await _entry_page(
                request, session, entry_id, typed=typed, problems=problems, status=400
            )
        if do == "draft":
            draft = draft or FaqDraft(entry_id=item.id)
            draft.topic, draft.answer, draft.source = item.topic, item.answer, item.source
            draft.questions, draft.keywords = list(item.questions), list(item.keywords)
            draft.checked, draft.author_staff_id, draft.updated_at = (
                item.checked,
                desk.staff.id,
                now,
            )
            session.add(draft)
            _audit(request, session, item.id, "draft_saved")
        else:
            await import_faq(session, [item], now)
            if draft is not None:
                await session.delete(draft)
            _audit(request, session, item.id, "published")
        await session.commit()
        if do == "publish":
            await rt.faq.reload(session)  # this process answers from it at once
    raise web.HTTPSeeOther(
        f"{PATH}/{quote(item.id)}?done={'draft' if do == 'draft' else 'published'}"
    )


def _export_row(item: FaqItem) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": item.id,
        "topic": item.topic,
        "questions": list(item.questions),
        "keywords": list(item.keywords),
        "answer": item.answer,
        "source": item.source,
    }
    if item.checked:
        row["checked"] = item.checked.isoformat()
    return row


@desk_page
async def export(request: web.Request) -> web.StreamResponse:
    """GET /admin/faq.yaml: the published entries in the file format `loa faq import` reads."""
    rt = request.app[RUNTIME]
    if not can(desk_of(request).staff, Action.SEE_FAQ):
        return await refuse(request, "tải câu hỏi thường gặp")
    text = yaml.safe_dump(
        [_export_row(e) for e in rt.faq.entries()], allow_unicode=True, sort_keys=False
    )
    return web.Response(
        text=text,
        content_type="application/x-yaml",
        headers={"Content-Disposition": 'attachment; filename="faq.yaml"'},
    )


def _import_context(**extra: Any) -> dict[str, Any]:
    return {"title": "Nhập câu hỏi thường gặp", "problems": [], "result": None, "name": "", **extra}


@desk_page
async def import_form(request: web.Request) -> web.StreamResponse:
    """GET /admin/faq/import: the upload form for a FAQ file (the format of the export)."""
    if not can(desk_of(request).staff, Action.EDIT_FAQ):
        return await refuse(request, "nhập câu hỏi thường gặp")
    return render_desk(request, "faq_import.html", _import_context())


@desk_page
async def import_file(request: web.Request) -> web.StreamResponse:
    """POST /admin/faq/import: multipart, `csrf_token` first, then `file`; all entries or none."""
    rt = request.app[RUNTIME]
    if not can(desk_of(request).staff, Action.EDIT_FAQ):
        return await refuse(request, "nhập câu hỏi thường gặp")
    with tempfile.TemporaryDirectory(prefix="loa-faq-") as folder:
        path, name, problem = await receive_file(
            request,
            Path(folder),
            kinds={".yaml": "YAML (.yaml)", ".yml": "YAML (.yml)"},
            max_bytes=MAX_UPLOAD,
            what="câu hỏi thường gặp",
        )
        if path is None:
            context = _import_context(problems=[problem], name=name)
            return render_desk(request, "faq_import.html", context, status=400)
        try:
            items = read_faq(path)
        except FaqImportError as exc:
            # read_faq names the temporary path; the official knows the file by its own name.
            problems = [p.replace(str(path), name) for p in exc.problems]
            context = _import_context(problems=problems, name=name)
            return render_desk(request, "faq_import.html", context, status=400)
    async with rt.sessions() as session:
        created, updated = await import_faq(session, items, rt.clock.now())
        ids = [item.id for item in items]
        drafts = (
            await session.scalars(
                select(FaqDraft.entry_id)
                .where(FaqDraft.entry_id.in_(ids))
                .order_by(FaqDraft.entry_id)
            )
        ).all()
        summary = f"{name}: {created} mục mới, {updated} cập nhật"
        _audit(request, session, summary, "imported")
        await session.commit()
        await rt.faq.reload(session)  # this process answers from the file at once
    result = {
        "created": created,
        "updated": updated,
        "unchanged": len(items) - created - updated,
        "drafts": [rt.faq.entry(i) for i in drafts if rt.faq.has(i)],
    }
    return render_desk(request, "faq_import.html", _import_context(result=result, name=name))


UNANSWERED_SHOWN = 100  # groups on the page, the most asked first


@desk_page
async def unanswered_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/faq/unanswered: what the bot could not answer, grouped by shared words."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    if not can(staff, Action.SEE_FAQ):
        return await refuse(request, "câu hỏi chưa trả lời được")
    async with rt.sessions() as session:
        groups = await unanswered_groups(session)
    rows = []
    for g in groups[:UNANSWERED_SHOWN]:
        decision = await rt.faq.decide_off_loop(g.examples[0])
        near = decision.entry_id or (decision.alternatives[0].id if decision.alternatives else "")
        rows.append(
            {
                "g": g,
                "last": g.last_at.astimezone(VN_TZ).strftime("%Hh%M %d/%m/%Y") if g.last_at else "",
                "ids": ",".join(str(i) for i in g.ids),
                "near": rt.faq.entry(near) if near and rt.faq.has(near) else None,
                "new_path": f"{PATH}/new?q={quote(g.examples[0])}",
                "phrasing_path": f"{PATH}/{near}?them={quote(g.examples[0])}" if near else "",
            }
        )
    done = request.query.get("done", "")
    return render_desk(
        request,
        "faq_unanswered.html",
        {
            "title": "Câu hỏi bot chưa trả lời được",
            "rows": rows,
            "more": max(0, len(groups) - UNANSWERED_SHOWN),
            "total": sum(g.count for g in groups),
            "may_edit": can(staff, Action.EDIT_FAQ),
            "done": int(done) if done.isdigit() else None,
            "retention": rt.settings.chat_retention_days,
        },
    )


@desk_page
async def unanswered_done(request: web.Request) -> web.StreamResponse:
    """POST /admin/faq/unanswered/done: `ids` of one group, now covered by an entry or phrasing."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    if not can(staff, Action.EDIT_FAQ):
        return await refuse(request, "đánh dấu câu hỏi đã xử lý")
    form = await request.post()
    ids = [int(i) for i in str(form.get("ids", "")).split(",")[:5000] if i.strip().isdigit()]
    async with rt.sessions() as session:
        count = await mark_handled(session, ids, staff.id, rt.clock.now())
        if count:
            _audit(request, session, f"{count} câu hỏi chưa trả lời được", "handled")
        await session.commit()
    raise web.HTTPSeeOther(f"{PATH}/unanswered?done={count}")


def add_routes(app: web.Application) -> None:
    """The FAQ pages and their menu entry."""
    app.router.add_get(PATH, faq_list)
    app.router.add_get(PATH + ".yaml", export)
    app.router.add_get(PATH + "/new", new_entry)
    app.router.add_post(PATH + "/save", save_entry)
    app.router.add_get(PATH + "/import", import_form)
    app.router.add_post(PATH + "/import", import_file)
    app.router.add_get(PATH + "/unanswered", unanswered_page)
    app.router.add_post(PATH + "/unanswered/done", unanswered_done)
    app.router.add_get(PATH + "/{id:[a-z0-9-]+}", entry_page)
    app[NAV] = [*app.get(NAV, []), NavItem("Hỏi đáp", PATH, Action.SEE_FAQ)]
    aiohttp_jinja2.get_env(app).filters["topic_name"] = topic_name
