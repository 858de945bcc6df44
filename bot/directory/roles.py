"""Who may do what: the one roles policy every action asks, by role and, for some roles, territory."""

from __future__ import annotations

from enum import StrEnum

from bot.directory.models import Staff, StaffRole


class Action(StrEnum):
    """Something a staff member asks the service to do."""

    RUN_CAMPAIGNS = "run_campaigns"  # create, cancel, retry, resend; post #thongbao in the group
    CRON_SCHEDULES = "cron_schedules"  # a raw cron schedule instead of daily, weekly, monthly
    RECORD_OFFLINE = "record_offline"  # a household told off Zalo (a meeting, a visit, the speaker)


POLICY: dict[Action, frozenset[StaffRole]] = {
    Action.RUN_CAMPAIGNS: frozenset({StaffRole.OFFICIAL, StaffRole.ADMIN}),
    Action.CRON_SCHEDULES: frozenset({StaffRole.ADMIN}),
    Action.RECORD_OFFLINE: frozenset(StaffRole),
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
