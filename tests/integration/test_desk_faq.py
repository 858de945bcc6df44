"""The FAQ on the desk: the try box decides as the bot does; drafts stay drafts until published."""

from __future__ import annotations

from urllib.parse import quote

import yaml
from sqlalchemy import func, select

from bot.chat.faq.loader import FaqItem
from bot.chat.models import FaqDraft
from bot.clock import FakeClock
from tests.desk import RESIDENT, Visitor, csrf_in, head_signed_in
from tests.service import Service, running_service

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
