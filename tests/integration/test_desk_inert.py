"""What people typed stays text on every desk page: one payload in every field a page shows."""

from __future__ import annotations

from urllib.parse import quote

import yaml
from sqlalchemy import select, update

from bot.chat.models import FaqEntry
from bot.clock import FakeClock
from bot.directory.models import Hamlet, Resident, Staff
from broadcasts.models import Campaign, HamletApproval, Household, Status
from tests.desk import ADMIN_PHONE, RESIDENT, TAN_THANH_HEAD, Visitor, head_signed_in
from tests.integration.test_desk_campaigns import scam_warning_sent
from tests.integration.test_desk_compose import MEETING
from tests.service import running_service

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(1)><svg onload=alert(1)>\"'"


def inert(page: str) -> bool:
    """No tag of the payload survived as markup."""
    return not any(tag in page for tag in ("<script>alert", "<img src=x", "<svg onload"))


async def test_a_payload_in_every_field_renders_inert_on_every_page(database_url: str) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as admin,
        Visitor(svc) as head,
    ):
        campaign_id, firing, hamlets = await scam_warning_sent(svc, clock)
        await svc.platform.user_send_text(RESIDENT, "0")  # asks for a person
        await svc.platform.user_send_text(RESIDENT, f"Tôi hỏi {PAYLOAD}")
        await svc.settled()
        tan_lap, tan_thanh = hamlets["Ấp Tân Lập"], hamlets["Ấp Tân Thạnh"]
        async with svc.runtime.sessions() as s:
            await s.execute(update(Campaign).values(title=f"Cảnh báo {PAYLOAD}"))
            await s.execute(
                update(Household)
                .where(Household.code == "TL-01")
                .values(head_name=f"Hộ {PAYLOAD}", address=PAYLOAD)
            )
            await s.execute(
                update(Resident)
                .where(Resident.zalo_user_id == RESIDENT)
                .values(display_name=f"Bà {PAYLOAD}")
            )
            await s.execute(update(Staff).where(Staff.role == "digital_team").values(name=PAYLOAD))
            await s.execute(
                update(Hamlet).where(Hamlet.id == tan_thanh).values(name=f"Ấp {PAYLOAD}")
            )
            entry_id = svc.runtime.faq.entries()[0].id
            await s.execute(
                update(FaqEntry)
                .where(FaqEntry.id == entry_id)
                .values(
                    topic="<script>alert(1)</script>",
                    questions=[f"Hỏi {PAYLOAD}"],
                    answer=PAYLOAD,
                    source=PAYLOAD,
                )
            )
            await s.commit()
            await svc.runtime.faq.reload(s)
            household = await s.scalar(select(Household.id).where(Household.code == "TL-01"))

        # An approval waiting on the head of Tân Thạnh, for the approvals queue, and a rejection
        # reason shown on the campaign page.
        assert await admin.sign_in(ADMIN_PHONE) == 303
        token = await admin.form_token("/admin/campaigns/new")
        form = [("csrf_token", token), ("template", "hop-thon"), ("hamlet", str(tan_thanh))]
        form += [("channel", "group"), ("do", "create"), ("title", f"Họp {PAYLOAD}")]
        form += [(k, f"{v} {PAYLOAD}") for k, v in MEETING.items()]
        form += [("at", "03/11 19h30")]
        status, _, answer = await admin.post("/admin/campaigns/new", form)
        assert status == 303, "the campaign with the payload is created"
        meeting_id = int(answer.headers["Location"].split("/")[-1].split("?")[0])
        async with svc.runtime.sessions() as s:
            await s.execute(
                update(HamletApproval)
                .where(HamletApproval.broadcast_id == firing)
                .values(status=Status.REJECTED, reason=f"Lý do {PAYLOAD}")
            )
            await s.commit()

        admin_pages = [
            "/admin/",
            "/admin/campaigns",
            "/admin/campaigns?q=" + quote(PAYLOAD),
            f"/admin/campaigns/{campaign_id}",
            f"/admin/campaigns/{meeting_id}",
            "/admin/campaigns/new",
            "/admin/hamlets",
            f"/admin/hamlets/{tan_lap}",
            f"/admin/hamlets/{tan_thanh}",
            "/admin/households",
            "/admin/households?q=" + quote(PAYLOAD),
            f"/admin/households/{household}",
            f"/admin/firings/{firing}/hamlets/{tan_lap}",
            f"/admin/firings/{firing}/hamlets/{tan_thanh}",
            "/admin/inbox",
            "/admin/audit",
            "/admin/staff",
            "/admin/faq",
            "/admin/faq?q=" + quote(PAYLOAD),
            "/admin/faq?thu=" + quote(PAYLOAD),
            f"/admin/faq/{entry_id}",
            "/admin/faq/new?q=" + quote(PAYLOAD),
            f"/admin/audit?hamlet={tan_thanh}",
            "/admin/account",
        ]
        shown = 0
        for path in admin_pages:
            status, page, _ = await admin.get(path)
            assert status == 200, path
            assert inert(page), path
            shown += "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert shown >= 12  # the payload is on most of them, as text
        # An uploaded file's name and its entries' ids are shown back in the import's answer.
        token = await admin.form_token("/admin/faq/import")
        bad = yaml.safe_dump([{"id": PAYLOAD, "topic": "x"}], allow_unicode=True).encode()
        status, page = await admin.upload("/admin/faq/import", token, f"{PAYLOAD}.yaml", bad)
        assert status == 400 and inert(page)
        assert "&lt;script&gt;" in page and "&lt;img src=x" in page  # the id, and the file's name

        await head_signed_in(svc, head, TAN_THANH_HEAD)
        for path in ("/admin/", "/admin/approvals", f"/admin/hamlets/{tan_thanh}"):
            status, page, _ = await head.get(path)
            assert status == 200 and inert(page), path
        _, page, _ = await head.get("/admin/approvals")
        assert "Họp &lt;script&gt;" in page  # the title as text, in the head's queue
