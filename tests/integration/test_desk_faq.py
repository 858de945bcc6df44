"""The FAQ on the desk: the try box decides as the bot does; drafts stay drafts until published."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import yaml
from markupsafe import escape
from sqlalchemy import func, select

from bot.chat.faq.commands import faq_unanswered_command
from bot.chat.faq.loader import FaqItem
from bot.chat.models import FaqDraft, UnansweredQuestion
from bot.clock import FakeClock
from bot.text import fold
from broadcasts.setup import purge_chat
from tests.desk import RESIDENT, Visitor, csrf_in, head_signed_in
from tests.service import Service, running_service

DEV_SET = Path(__file__).parents[3] / "shared" / "faq" / "dev-questions.tsv"
MARK = "Xin liên hệ cán bộ chính sách xã vào sáng thứ Hai (bản mới)."


def answered_by_itself(svc: Service) -> FaqItem:
    """An entry whose first phrasing the bot answers with that entry."""
    book = svc.runtime.faq
    for entry in book.entries():
        made = book.decide(entry.questions[0])
        if made.outcome == "answer" and made.entry_id == entry.id:
            return entry
    raise AssertionError("no entry answers its own first phrasing")


async def test_the_try_box_shows_the_bots_decision(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        entry = answered_by_itself(svc)
        assert await office.sign_in() == 303
        status, page, _ = await office.get("/admin/faq?thu=" + quote(entry.questions[0]))
        assert status == 200 and "trả lời bằng mục này" in page
        assert f'href="/admin/faq/{entry.id}"' in page
        made = svc.runtime.faq.decide("con bò nhà tôi bị lạc mất rồi")
        _, page, _ = await office.get("/admin/faq?thu=" + quote("con bò nhà tôi bị lạc mất rồi"))
        assert (made.outcome == "answer") == ("trả lời bằng mục này" in page)
        if made.outcome != "answer":
            assert "Tạo mục mới với câu hỏi này" in page
        _, page, _ = await office.get("/admin/faq")
        # Entries read by their first question and their topic's name, not by internal slugs.
        assert f'href="/admin/faq/{entry.id}">{escape(entry.questions[0])}</a>' in page
        assert "<td>Vay vốn</td>" in page and ">vay-von<" not in page
        status, body, _ = await office.get("/admin/faq.yaml")
        exported = yaml.safe_load(body)
        assert status == 200 and len(exported) == len(svc.runtime.faq.entries())


async def test_a_draft_is_not_answered_from_until_it_is_published(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        entry = answered_by_itself(svc)
        assert await office.sign_in() == 303
        path = f"/admin/faq/{entry.id}"
        status, page, _ = await office.get(path)
        assert status == 200 and 'name="answer"' in page
        form = {
            "csrf_token": csrf_in(page),
            "id": entry.id,
            "topic": entry.topic,
            "questions": "\n".join(entry.questions),
            "keywords": "\n".join(entry.keywords),
            "answer": f"{MARK}\n{entry.answer}",
            "source": entry.source,
            "checked": "30/11/2026",
        }
        status, _, answer = await office.post("/admin/faq/save", {**form, "do": "draft"})
        assert status == 303 and answer.headers["Location"].endswith("?done=draft")
        await svc.platform.user_send_text(RESIDENT, entry.questions[0])
        await svc.settled()
        assert MARK not in svc.oa_texts(RESIDENT)[-1]  # the bot still answers the published text

        status, _, _ = await office.post("/admin/faq/save", {**form, "do": "publish"})
        assert status == 303
        await svc.platform.user_send_text(RESIDENT, entry.questions[0])
        await svc.settled()
        assert MARK in svc.oa_texts(RESIDENT)[-1]  # at once, no restart
        async with svc.runtime.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(FaqDraft)) == 0


async def test_a_bad_entry_is_refused_with_its_problems_and_nothing_saved(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        assert await office.sign_in() == 303
        _, page, _ = await office.get("/admin/faq/new?q=" + quote("bò lạc thì báo ai"))
        assert "bò lạc thì báo ai</textarea>" in page  # the try box's question, ready
        form = {"csrf_token": csrf_in(page), "id": "Bò Lạc", "topic": "Bò lạc", "questions": ""}
        for do in ("draft", "publish"):
            status, page, _ = await office.post(
                "/admin/faq/save", {**form, "answer": "", "source": "", "checked": "", "do": do}
            )
            assert status == 400 and "Mã mục chỉ gồm chữ thường không dấu" in page
            assert "Thiếu câu trả lời" in page and "Thiếu nguồn" in page
        async with svc.runtime.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(FaqDraft)) == 0
        assert not svc.runtime.faq.has("bo-lac")


async def test_heads_try_questions_but_do_not_edit(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        entry = answered_by_itself(svc)
        await head_signed_in(svc, phone)
        status, page, _ = await phone.get("/admin/faq?thu=" + quote(entry.questions[0]))
        assert status == 200 and "trả lời bằng mục này" in page and "Thêm mục" not in page
        status, page, _ = await phone.get(f"/admin/faq/{entry.id}")
        assert status == 200 and 'name="answer"' not in page
        status, _, _ = await phone.post(
            "/admin/faq/save",
            {"csrf_token": csrf_in(page), "id": entry.id, "answer": "x", "do": "publish"},
        )
        assert status == 404
        assert svc.runtime.faq.entry(entry.id).answer == entry.answer


ASKED = (
    ("4000000000000000002", "Cho hỏi lịch cắt điện tuần này"),
    ("4000000000000000003", "cho hoi lich cat dien tuan nay o ap"),
    ("4000000000000000004", "giá lúa hôm nay bao nhiêu"),
)


async def test_questions_the_bot_could_not_answer_are_grouped_for_officials(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        for user, text in ASKED:
            assert svc.runtime.faq.decide(text).outcome == "fallback", text
            await svc.platform.user_send_text(user, text)
        await svc.settled()
        async with svc.runtime.sessions() as s:
            kept = (await s.scalars(select(UnansweredQuestion))).all()
        # Folded text only: nothing in the row says who asked.
        assert sorted(q.text for q in kept) == sorted(
            [
                "cho hoi lich cat dien tuan nay",
                "cho hoi lich cat dien tuan nay o ap",
                "gia lua hom nay bao nhieu",
            ]
        )
        assert not {"zalo_user_id", "resident_id"} & set(UnansweredQuestion.__table__.c.keys())

        assert await office.sign_in() == 303
        status, page, _ = await office.get("/admin/faq/unanswered")
        assert status == 200 and "3 câu hỏi, 2 nhóm." in page
        first = page.index("2 lần hỏi")
        assert first < page.index("1 lần hỏi")  # the most asked first
        assert "“cho hoi lich cat dien tuan nay”" in page[first : page.index("1 lần hỏi")]
        assert 'href="/admin/faq/new?q=cho%20hoi%20lich' in page

        out = io.StringIO()
        assert await faq_unanswered_command(svc.runtime.sessions, out) == 0
        assert "3 câu hỏi bot chưa trả lời được, 2 nhóm" in out.getvalue()
        assert "- 2 lần" in out.getvalue() and "gia lua hom nay" in out.getvalue()

        token = csrf_in(page)
        ids = page.split('name="ids" value="')[1].split('"')[0]
        status, _, answer = await office.post(
            "/admin/faq/unanswered/done", {"csrf_token": token, "ids": ids}
        )
        assert status == 303
        _, page, _ = await office.get(answer.headers["Location"])
        assert "Đã đánh dấu 2 câu hỏi là đã xử lý." in page and "1 câu hỏi, 1 nhóm." in page

        # Past the chat retention, the questions are deleted with the chat content.
        clock.advance(timedelta(days=svc.runtime.settings.chat_retention_days + 1))
        await purge_chat(svc.runtime)
        async with svc.runtime.sessions() as s:
            left = await s.scalar(select(func.count()).select_from(UnansweredQuestion))
        assert left == 0


async def test_an_unanswered_question_becomes_a_phrasing_of_an_entry(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        entry = answered_by_itself(svc)
        assert await office.sign_in() == 303
        status, page, _ = await office.get(
            f"/admin/faq/{entry.id}?them=" + quote("cho hoi lich cat dien")
        )
        assert status == 200
        questions = page.split('name="questions"')[1].split("</textarea>")[0]
        assert entry.questions[0] in questions and questions.rstrip().endswith(
            "cho hoi lich cat dien"
        )


async def test_a_clarify_left_without_a_choice_is_kept_too(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        with open(DEV_SET, encoding="utf-8") as f:
            asked = [line.split("\t")[0] for line in f.read().splitlines()[1:]]
        unsure = next(q for q in asked if svc.runtime.faq.decide(q).outcome == "clarify")
        await svc.platform.user_send_text(RESIDENT, unsure)
        await svc.platform.user_send_text(RESIDENT, "giá lúa hôm nay bao nhiêu")  # not a choice
        await svc.settled()
        async with svc.runtime.sessions() as s:
            kept = (await s.scalars(select(UnansweredQuestion))).all()
        assert {(q.outcome, q.text) for q in kept} == {
            ("clarify", fold(unsure)),
            ("fallback", "gia lua hom nay bao nhieu"),
        }


def faq_file(entries: list[dict[str, object]]) -> bytes:
    return yaml.safe_dump(entries, allow_unicode=True, sort_keys=False).encode()


async def test_an_official_imports_a_faq_file_all_entries_or_none(database_url: str) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as office,
        Visitor(svc) as phone,
    ):
        entry = answered_by_itself(svc)
        before = len(svc.runtime.faq.entries())
        assert await office.sign_in() == 303
        status, page, _ = await office.get("/admin/faq")
        assert 'href="/admin/faq/import"' in page
        status, page, _ = await office.get("/admin/faq/import")
        assert status == 200 and 'enctype="multipart/form-data"' in page
        token = csrf_in(page)
        changed = {
            "id": entry.id,
            "topic": entry.topic,
            "questions": list(entry.questions),
            "answer": f"{MARK}\n{entry.answer}",
            "source": entry.source,
        }
        new = {
            "id": "bo-lac",
            "topic": "Báo mất bò",
            "questions": ["con bò nhà tôi bị lạc mất rồi"],
            "answer": "Bà con báo công an xã và trưởng ấp.",
            "source": "Công an xã",
        }
        broken = {"id": "Sai Mã", "topic": "", "questions": [], "answer": "x", "source": "y"}

        status, page = await office.upload(
            "/admin/faq/import", token, "faq.yaml", faq_file([changed, new, broken])
        )
        assert status == 400 and "mục 3 (id Sai Mã)" in page and "bot vẫn trả lời như cũ" in page
        assert "/tmp" not in page and "loa-faq-" not in page
        assert len(svc.runtime.faq.entries()) == before and not svc.runtime.faq.has("bo-lac")
        status, page = await office.upload("/admin/faq/import", token, "faq.yaml", b"- id: [")
        assert status == 400 and "YAML (dòng" in page
        status, page = await office.upload("/admin/faq/import", token, "faq.docx", b"PK")
        assert status == 400 and "YAML (.yaml)" in page
        status, page = await office.upload("/admin/faq/import", token, "", b"")
        assert status == 400 and "Xin chọn tệp câu hỏi thường gặp" in page
        reserved = {**new, "id": "new"}
        status, page = await office.upload(
            "/admin/faq/import", token, "faq.yaml", faq_file([reserved])
        )
        assert status == 400 and "tên một trang" in page
        status, _ = await office.upload("/admin/faq/import", None, "faq.yaml", faq_file([new]))
        assert status == 403

        # A draft of the changed entry is someone's pending edit: the import keeps it, and says so.
        status, page, _ = await office.get(f"/admin/faq/{entry.id}")
        form = {**{k: str(v) for k, v in changed.items()}, "questions": "\n".join(entry.questions)}
        form.update(
            csrf_token=csrf_in(page), keywords="", checked="", answer=entry.answer, do="draft"
        )
        assert (await office.post("/admin/faq/save", form))[0] == 303

        status, page = await office.upload(
            "/admin/faq/import", token, "faq.yaml", faq_file([changed, new])
        )
        assert status == 200 and "1 mục mới, 1 mục cập nhật" in page
        assert "còn bản nháp chưa đăng" in page and f'href="/admin/faq/{entry.id}"' in page
        assert len(svc.runtime.faq.entries()) == before + 1
        await svc.platform.user_send_text(RESIDENT, entry.questions[0])
        await svc.settled()
        assert MARK in svc.oa_texts(RESIDENT)[-1]  # answered from the file at once, no restart
        async with svc.runtime.sessions() as s:
            assert await s.get(FaqDraft, entry.id) is not None
        _, page, _ = await office.get("/admin/audit")
        assert "faq.yaml: 1 mục mới, 1 cập nhật" in page

        await head_signed_in(svc, phone)
        status, _, _ = await phone.get("/admin/faq/import")
        assert status == 404  # heads try questions; officials change what the bot says
