"""The roles policy: what each role may do, and where a hamlet's people may do it."""

from __future__ import annotations

from bot.directory.models import Staff, StaffRole
from bot.directory.roles import Action, can


def staff(role: StaffRole, hamlet_id: int | None = None, *, active: bool = True) -> Staff:
    return Staff(id=1, commune_id=1, name="Cán bộ", role=role, hamlet_id=hamlet_id, active=active)


def test_only_officials_and_admins_run_campaigns() -> None:
    assert can(staff(StaffRole.OFFICIAL), Action.RUN_CAMPAIGNS)
    assert can(staff(StaffRole.ADMIN), Action.RUN_CAMPAIGNS)
    assert not can(staff(StaffRole.HAMLET_HEAD, 2), Action.RUN_CAMPAIGNS)
    assert not can(staff(StaffRole.DIGITAL_TEAM, 2), Action.RUN_CAMPAIGNS)


def test_raw_cron_schedules_are_for_admins() -> None:
    assert can(staff(StaffRole.ADMIN), Action.CRON_SCHEDULES)
    assert not can(staff(StaffRole.OFFICIAL), Action.CRON_SCHEDULES)


def test_a_hamlets_people_record_offline_reach_for_their_own_hamlet_only() -> None:
    head = staff(StaffRole.HAMLET_HEAD, 2)
    assert can(head, Action.RECORD_OFFLINE, 2)
    assert not can(head, Action.RECORD_OFFLINE, 3)
    assert not can(staff(StaffRole.DIGITAL_TEAM, 2), Action.RECORD_OFFLINE, 3)
    assert can(staff(StaffRole.OFFICIAL), Action.RECORD_OFFLINE, 3)  # the commune's, any hamlet


def test_a_disabled_account_may_do_nothing() -> None:
    for action in Action:
        assert not can(staff(StaffRole.ADMIN, active=False), action, 2)
