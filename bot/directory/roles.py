"""Who may do what: the one roles policy every action asks, by role and, for some roles, territory."""

from __future__ import annotations

from enum import StrEnum

from bot.directory.models import Staff, StaffRole


class Action(StrEnum):
    """Something a staff member asks the service to do."""

    RUN_CAMPAIGNS = "run_campaigns"  # create, cancel, retry, resend; post #thongbao in the group
    CRON_SCHEDULES = "cron_schedules"  # a raw cron schedule instead of daily, weekly, monthly
    RECORD_OFFLINE = "record_offline"  # a household told off Zalo (a meeting, a visit, the speaker)
    SEE_HAMLET = "see_hamlet"  # a hamlet's page on the desk: its residents, households, groups
    SEE_CAMPAIGNS = "see_campaigns"  # the commune's campaigns and their reach on the desk
    SEE_HOUSEHOLDS = "see_households"  # households by name and category (private), and their reach
    EXPORT_HOUSEHOLDS = "export_households"  # a file of a hamlet's households by name
    EDIT_HOUSEHOLDS = "edit_households"  # change a household, link a follower to it
    IMPORT_HOUSEHOLDS = "import_households"  # load the commune's household list from a file
    APPROVE = "approve"  # answer a hamlet's approval request (as its named approver)
    MANAGE_STAFF = "manage_staff"  # add, disable, hand a hamlet to a new head
    SEE_STAFF = "see_staff"  # the list of staff accounts and how each signs in
    ANSWER_RESIDENTS = "answer_residents"  # reply to a resident waiting for a person, hand back
    SEE_AUDIT = "see_audit"  # the audit log: who did what, when
    SEE_FAQ = "see_faq"  # the FAQ's entries and the try box (what the bot would answer)
    EDIT_FAQ = "edit_faq"  # write drafts, publish, import


POLICY: dict[Action, frozenset[StaffRole]] = {
    Action.RUN_CAMPAIGNS: frozenset({StaffRole.OFFICIAL, StaffRole.ADMIN}),
    Action.CRON_SCHEDULES: frozenset({StaffRole.ADMIN}),
    Action.RECORD_OFFLINE: frozenset(StaffRole) - {StaffRole.AUDITOR},
    Action.SEE_HAMLET: frozenset(StaffRole),
    Action.SEE_CAMPAIGNS: frozenset(
        {StaffRole.OFFICIAL, StaffRole.ADMIN, StaffRole.AUDITOR, StaffRole.HAMLET_HEAD}
    ),
    Action.SEE_HOUSEHOLDS: frozenset(
        {StaffRole.OFFICIAL, StaffRole.ADMIN, StaffRole.AUDITOR, StaffRole.HAMLET_HEAD}
    ),
    # Names leave the desk only in the hands of the head who visits them; the commune gets counts.
    Action.EXPORT_HOUSEHOLDS: frozenset({StaffRole.HAMLET_HEAD}),
    Action.EDIT_HOUSEHOLDS: frozenset({StaffRole.OFFICIAL, StaffRole.ADMIN, StaffRole.HAMLET_HEAD}),
    Action.IMPORT_HOUSEHOLDS: frozenset({StaffRole.OFFICIAL, StaffRole.ADMIN}),
    Action.APPROVE: frozenset({StaffRole.HAMLET_HEAD, StaffRole.ADMIN}),
    Action.MANAGE_STAFF: frozenset({StaffRole.ADMIN}),
    Action.SEE_STAFF: frozenset({StaffRole.ADMIN, StaffRole.AUDITOR}),
    Action.ANSWER_RESIDENTS: frozenset(StaffRole) - {StaffRole.AUDITOR},
    Action.SEE_AUDIT: frozenset({StaffRole.OFFICIAL, StaffRole.ADMIN, StaffRole.AUDITOR}),
    Action.SEE_FAQ: frozenset(StaffRole),
    Action.EDIT_FAQ: frozenset({StaffRole.OFFICIAL, StaffRole.ADMIN}),
}
# Roles that act for their own hamlet only; the others act for the whole commune.
TERRITORIAL = frozenset({StaffRole.HAMLET_HEAD, StaffRole.DIGITAL_TEAM})


def can(actor: Staff, action: Action, hamlet_id: int | None = None) -> bool:
    """Whether an active staff member may do `action` (for `hamlet_id`, when it concerns one)."""
    if not actor.active or actor.role not in POLICY[action]:
        return False
    if hamlet_id is not None and actor.role in TERRITORIAL:
        return actor.hamlet_id == hamlet_id
    return True


NO_HAMLET = 0  # no row has this id: a territorial role without a hamlet sees nothing


def territory(actor: Staff) -> int | None:
    """The one hamlet a territorial role is confined to; None for those who see the whole commune."""
    if actor.role not in TERRITORIAL:
        return None
    return actor.hamlet_id if actor.hamlet_id is not None else NO_HAMLET


ROLE_LABELS = {
    StaffRole.DIGITAL_TEAM: "Tổ công nghệ số cộng đồng",
    StaffRole.OFFICIAL: "Cán bộ xã",
    StaffRole.ADMIN: "Quản trị xã",
    StaffRole.AUDITOR: "Người kiểm tra (chỉ xem)",
}


def head_title(hamlet_word: str) -> str:
    """The hamlet head's title in the commune's own word: "trưởng ấp", "trưởng thôn", "tổ trưởng"."""
    word = hamlet_word.strip().lower()
    return "tổ trưởng" if word in ("tổ", "tổ dân phố") else f"trưởng {word}"


def role_label(role: str, hamlet_word: str = "ấp") -> str:
    """A role as staff read it: "Trưởng ấp" (in the commune's own word), "Cán bộ xã", …"""
    if role == StaffRole.HAMLET_HEAD:
        return f"Trưởng {hamlet_word}"
    known = {r.value: r for r in StaffRole}
    return ROLE_LABELS.get(known[role], role) if role in known else role
