"""Campaign timing: presets and cron, end dates, schedule checks, quiet hours, local dates."""

from __future__ import annotations

import os
import re
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcasts.timing import (
    QUIET_END,
    QUIET_START,
    Recurrence,
    TimingError,
    after_quiet_hours,
    check_schedule,
    event_day,
    firings,
    format_local,
    in_quiet_hours,
    parse_local_datetime,
    parse_recurrence,
    recurrence_from_rule,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Vietnam wall-clock time as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=VN).astimezone(UTC)


def local(when: datetime) -> datetime:
    return when.astimezone(VN)


# ------------------------------------------------------------------ presets


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("hằng ngày lúc 19h30", "daily@19:30"),
        ("Hàng ngày 19:30", "daily@19:30"),
        ("HANG NGAY luc 19h30", "daily@19:30"),
        ("mỗi ngày 7 giờ sáng", "daily@07:00"),
        ("hằng ngày lúc 2 giờ chiều", "daily@14:00"),
        ("hằng ngày lúc 8 giờ tối", "daily@20:00"),
        ("hằng ngày lúc 7 giờ rưỡi", "daily@07:30"),
        ("hằng tuần vào thứ Hai lúc 8h", "weekly:0@08:00"),
        ("hang tuan vao thu hai luc 8h", "weekly:0@08:00"),
        ("hằng tuần vào thứ Sáu lúc 19h30", "weekly:4@19:30"),
        ("Hằng tuần vào thứ Bảy 19:30", "weekly:5@19:30"),
        ("hằng tuần vào chủ nhật lúc 7h", "weekly:6@07:00"),
        ("hang tuan vao chu nhat luc 7h", "weekly:6@07:00"),
        ("hằng tuần vào thứ Hai, thứ Năm lúc 19h30", "weekly:0,3@19:30"),
        ("hang tuan vao thu 2, thu 5 luc 19h30", "weekly:0,3@19:30"),
        ("hằng tuần thu 2 va t5 19h30", "weekly:0,3@19:30"),
        ("T2 T5 19h30", "weekly:0,3@19:30"),
        ("cn 8h", "weekly:6@08:00"),
        ("hằng tuần vào thứ 2, 4, 6 lúc 7 giờ sáng", "weekly:0,2,4@07:00"),
        ("từ thứ Hai đến thứ Sáu lúc 17h", "weekly:0,1,2,3,4@17:00"),
        ("thứ 2-6 lúc 17h", "weekly:0,1,2,3,4@17:00"),
        ("thứ 7 - chủ nhật lúc 17h", "weekly:5,6@17:00"),
        ("hằng tuần vào thứ Hai, Năm lúc 19h30", "weekly:0,3@19:30"),
        ("thu hai, ba va nam luc 8h", "weekly:0,1,3@08:00"),
        ("hằng tuần vào thứ Tư lúc 8 giờ 15 phút", "weekly:2@08:15"),
        ("hằng tháng ngày 15 lúc 8h", "monthly:15@08:00"),
        ("hang thang ngay 15 luc 8h", "monthly:15@08:00"),
        ("ngày 15 hằng tháng lúc 8h", "monthly:15@08:00"),
        ("hằng tháng mùng 1 và 15 lúc 7h30", "monthly:1,15@07:30"),
        ("hằng tháng ngày cuối tháng lúc 17h", "monthly:last@17:00"),
        ("hang thang ngay cuoi thang 17:00", "monthly:last@17:00"),
        ("hằng tháng ngày 31 lúc 8h", "monthly:31@08:00"),
    ],
)
def test_presets_read_with_or_without_diacritics(text: str, rule: str) -> None:
    assert parse_recurrence(text).rule == rule


def test_time_of_day_may_be_given_separately_and_text_wins() -> None:
    assert (
        parse_recurrence("hằng tuần vào thứ Sáu", default_time=time(19, 30)).rule
        == "weekly:4@19:30"
    )
    assert parse_recurrence("hằng ngày lúc 8h", default_time=time(19, 30)).rule == "daily@08:00"


def test_describe_in_vietnamese() -> None:
    assert parse_recurrence("hang tuan vao thu 2, thu 5 luc 19h30").describe() == (
        "Hằng tuần vào thứ Hai, thứ Năm lúc 19h30"
    )
    assert parse_recurrence("hằng ngày 8h").describe() == "Hằng ngày lúc 8h"
    assert parse_recurrence("hằng tháng ngày cuối tháng 7h05").describe() == (
        "Hằng tháng vào ngày cuối tháng lúc 7h05"
    )
    assert "không có ngày 31" in parse_recurrence("hằng tháng ngày 31 lúc 8h").describe()
    assert "30 19 * * 5" in parse_recurrence("cron: 30 19 * * 5").describe()


def test_daily_crosses_the_year_in_vietnam_time() -> None:
    rec = parse_recurrence("hằng ngày lúc 19h30")
    assert rec.next_after(vn(2026, 12, 31, 19, 29)) == vn(2026, 12, 31, 19, 30)
    assert rec.next_after(vn(2026, 12, 31, 19, 30)) == vn(2027, 1, 1, 19, 30)  # strictly after
    # 19:30 in Vietnam is 12:30 UTC; 23:00 UTC on 31/12 is already 1/1 in Vietnam.
    assert vn(2027, 1, 1, 19, 30) == datetime(2027, 1, 1, 12, 30, tzinfo=UTC)
    assert rec.next_after(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == vn(2027, 1, 1, 19, 30)


def test_early_morning_firing_is_on_the_vietnam_day_not_the_utc_day() -> None:
    rec = parse_recurrence("hằng tuần vào thứ Hai lúc 6h")
    nxt = rec.next_after(vn(2026, 12, 20, 12))  # Sunday noon
    assert nxt == vn(2026, 12, 21, 6)
    assert nxt is not None and nxt.weekday() == 6  # still Sunday in UTC


def test_weekly_crosses_the_week() -> None:
    rec = parse_recurrence("hang tuan vao thu hai, thu nam luc 19h30")
    start = vn(2026, 12, 25, 8)  # a Friday
    assert firings(rec, start, None, 4) == [
        vn(2026, 12, 28, 19, 30),
        vn(2026, 12, 31, 19, 30),
        vn(2027, 1, 4, 19, 30),
        vn(2027, 1, 7, 19, 30),
    ]


def test_weekly_sunday_and_same_day_later() -> None:
    rec = parse_recurrence("chủ nhật 8h")
    assert rec.next_after(vn(2026, 12, 20, 7, 59)) == vn(2026, 12, 20, 8)
    assert rec.next_after(vn(2026, 12, 20, 8)) == vn(2026, 12, 27, 8)


def test_monthly_crosses_the_year() -> None:
    rec = parse_recurrence("hằng tháng ngày 15 lúc 8h")
    assert firings(rec, vn(2026, 12, 16), None, 2) == [vn(2027, 1, 15, 8), vn(2027, 2, 15, 8)]


def test_day_31_skips_short_months() -> None:
    rec = parse_recurrence("hằng tháng ngày 31 lúc 8h")
    got = [local(t).date() for t in firings(rec, vn(2027, 1, 1), None, 5)]
    assert got == [
        date(2027, 1, 31),
        date(2027, 3, 31),
        date(2027, 5, 31),
        date(2027, 7, 31),
        date(2027, 8, 31),
    ]


def test_day_30_skips_february_and_29_only_in_leap_years() -> None:
    rec = parse_recurrence("hang thang ngay 29 luc 8h")
    got = [local(t).date() for t in firings(rec, vn(2027, 1, 1), None, 3)]
    assert got == [date(2027, 1, 29), date(2027, 3, 29), date(2027, 4, 29)]
    got = [local(t).date() for t in firings(rec, vn(2028, 1, 30), None, 2)]
    assert got == [date(2028, 2, 29), date(2028, 3, 29)]


def test_last_day_of_month() -> None:
    rec = parse_recurrence("hằng tháng ngày cuối tháng lúc 17h")
    got = [local(t).date() for t in firings(rec, vn(2027, 12, 1), None, 4)]
    assert got == [date(2027, 12, 31), date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]


def test_last_day_and_day_31_do_not_fire_twice() -> None:
    rec = parse_recurrence("hằng tháng ngày 31 và ngày cuối tháng lúc 8h")
    got = [local(t).date() for t in firings(rec, vn(2027, 1, 1), None, 3)]
    assert got == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]


# ------------------------------------------------------------------ end dates and firings


def test_firings_start_inclusive_and_end_date_inclusive_in_vietnam_time() -> None:
    rec = parse_recurrence("hằng ngày lúc 19h30")
    start = vn(2026, 12, 20, 19, 30)
    got = firings(rec, start, date(2026, 12, 23), 100)
    assert got == [vn(2026, 12, d, 19, 30) for d in (20, 21, 22, 23)]
    assert firings(rec, start, date(2026, 12, 23), 2) == got[:2]
    assert firings(rec, start, None, 0) == []


def test_end_date_is_the_vietnam_day_not_the_utc_day() -> None:
    rec = parse_recurrence("hằng ngày lúc 6h")  # 23:00 UTC the day before
    got = firings(rec, vn(2026, 12, 20), date(2026, 12, 21), 10)
    assert [local(t).date() for t in got] == [date(2026, 12, 20), date(2026, 12, 21)]


def test_results_do_not_depend_on_the_machine_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(time_module, "tzset"):
        pytest.skip("no tzset on this platform")
    rec = parse_recurrence("hằng tuần vào thứ Hai lúc 19h30")
    expected = firings(rec, vn(2026, 12, 20), date(2027, 1, 10), 10)
    monkeypatch.setenv("TZ", "America/New_York")
    time_module.tzset()
    try:
        assert firings(rec, vn(2026, 12, 20), date(2027, 1, 10), 10) == expected
        assert format_local(expected[0]) == "19h30 thứ Hai 21/12/2026"
        assert in_quiet_hours(vn(2026, 12, 20, 21))
    finally:
        monkeypatch.delenv("TZ")
        os.environ.pop("TZ", None)
        time_module.tzset()


# ------------------------------------------------------------------ cron


def test_cron_uses_crontab_weekdays() -> None:
    rec = parse_recurrence("cron: 30 19 * * 5")
    assert rec.rule == "cron:30 19 * * 5"
    nxt = rec.next_after(vn(2026, 12, 14))
    assert nxt == vn(
        2026, 12, 18, 19, 30
    )  # Friday, as crontab means it (apscheduler 3 alone says Saturday)
    assert recurrence_from_rule(rec.rule) == rec


@pytest.mark.parametrize("expr", ["0 8 * * 0", "0 8 * * 7", "0 8 * * sun", "0 8 * * SUN"])
def test_cron_sunday_spellings(expr: str) -> None:
    nxt = parse_recurrence("cron: " + expr).next_after(vn(2026, 12, 14))
    assert nxt == vn(2026, 12, 20, 8)


def test_cron_weekday_ranges_steps_and_bare_expression() -> None:
    rec = parse_recurrence("0 7 * * 1-5")
    got = [local(t).weekday() for t in firings(rec, vn(2026, 12, 14), None, 7)]
    assert got == [0, 1, 2, 3, 4, 0, 1]
    rec = parse_recurrence("cron:0 7 * * */2")  # Sunday, Tuesday, Thursday, Saturday
    got = [local(t).weekday() for t in firings(rec, vn(2026, 12, 14), None, 4)]
    assert got == [1, 3, 5, 6]


def test_cron_day_of_month_or_day_of_week_as_in_crontab() -> None:
    rec = parse_recurrence("cron: 0 8 1 * 1")  # the 1st, and every Monday
    got = [local(t).date() for t in firings(rec, vn(2026, 12, 26), None, 3)]
    assert got == [date(2026, 12, 28), date(2027, 1, 1), date(2027, 1, 4)]


def test_cron_at_the_exact_firing_is_strictly_after() -> None:
    rec = parse_recurrence("cron: 0 8 * * *")
    assert rec.next_after(vn(2026, 12, 20, 8)) == vn(2026, 12, 21, 8)
    assert firings(rec, vn(2026, 12, 20, 8), None, 1) == [vn(2026, 12, 20, 8)]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("cron: 0 8 * *", "5 phần"),
        ("cron: 0 25 * * *", "phần giờ"),
        ("cron: 61 8 * * *", "phần phút"),
        ("cron: 0 8 * * 9", "thứ trong tuần"),
        ("cron: 0 8 30 2 *", "không bao giờ"),
        ("cron: * * * * *", "chưa tới 1 giờ"),
        ("cron: */15 8 * * *", "chưa tới 1 giờ"),
    ],
)
def test_bad_cron_is_explained(text: str, fragment: str) -> None:
    with pytest.raises(TimingError) as err:
        parse_recurrence(text)
    assert any(fragment in p for p in err.value.problems)


# ------------------------------------------------------------------ unreadable text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Chưa nhập lịch"),
        ("   ", "Chưa nhập lịch"),
        ("hằng tuần vào thứ Hai", "Chưa có giờ gửi"),
        ("hằng ngày", "Chưa có giờ gửi"),
        ("hằng tuần lúc 8h", "thứ mấy"),
        ("hằng tháng lúc 8h", "ngày nào trong tháng"),
        ("hằng tháng ngày 32 lúc 8h", "ngày 32"),
        ("hằng ngày lúc 25h", "25h"),
        ("hằng ngày lúc 7h và 19h", "nhiều giờ"),
        ("ngày 15 lúc 8h", "hằng tháng ngày 15"),
        ("thứ Hai ngày 15 lúc 8h", "chọn một"),
        ("hằng tháng ngày 15 âm lịch lúc 8h", "Lịch âm"),
        ("hằng tuần vào thứ Hai lúc 8h xyz", "“xyz”"),
        ("mỗi khi trời mưa", "Không hiểu “khi trời mưa”"),
    ],
)
def test_unreadable_text_lists_problems_in_vietnamese(text: str, fragment: str) -> None:
    with pytest.raises(TimingError) as err:
        parse_recurrence(text)
    problems = err.value.problems
    assert problems and all(isinstance(p, str) and p for p in problems)
    assert any(fragment in p for p in problems), problems


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(TimingError) as err:
        parse_recurrence("hằng tháng ngày 32 lúc 25h")
    text = " ".join(err.value.problems)
    assert "25h" in text and "ngày 32" in text
    assert isinstance(err.value, ValueError)


# ------------------------------------------------------------------ stored rules


@pytest.mark.parametrize(
    "rule",
    [
        "daily@19:30",
        "weekly:0,3@19:30",
        "weekly:6@00:00",
        "monthly:15@08:00",
        "monthly:1,31,last@23:59",
    ],
)
def test_rules_round_trip(rule: str) -> None:
    rec = recurrence_from_rule(rule)
    assert rec.rule == rule
    assert recurrence_from_rule(rec.rule) == rec
    assert parse_recurrence("hang ngay 8h") == recurrence_from_rule("daily@08:00")


def test_rules_are_normalised() -> None:
    assert recurrence_from_rule("weekly:3,0,3@19:30").rule == "weekly:0,3@19:30"
    assert recurrence_from_rule(" cron:  30 19 *  * 5 ").rule == "cron:30 19 * * 5"
    assert Recurrence("monthly:last,15@08:00").rule == "monthly:15,last@08:00"


@pytest.mark.parametrize(
    "rule",
    [
        "", "daily", "daily@24:00", "weekly@08:00", "weekly:7@08:00", "monthly:0@08:00", "monthly:32@08:00",
        "yearly:1@08:00", "daily:1@08:00", "weekly:mon@08:00", "cron:", "cron:0 8 30 2 *",
    ],
)  # fmt: skip
def test_bad_rules_are_refused(rule: str) -> None:
    with pytest.raises(TimingError):
        recurrence_from_rule(rule)


# ------------------------------------------------------------------ schedule checks

NOW = vn(2026, 12, 18, 10)


def problems_of(*args: object) -> list[str]:
    with pytest.raises(TimingError) as err:
        check_schedule(*args)  # type: ignore[arg-type]
    return err.value.problems


def test_good_schedules_pass() -> None:
    check_schedule(None, None, None, NOW)
    check_schedule(None, vn(2026, 12, 20, 19, 30), None, NOW)
    check_schedule(parse_recurrence("hằng ngày 19h30"), None, date(2026, 12, 18), NOW)
    check_schedule(
        parse_recurrence("hằng tuần vào thứ Hai 8h"), vn(2026, 12, 21, 8), date(2026, 12, 21), NOW
    )
    check_schedule(parse_recurrence("hằng tháng ngày 31 lúc 8h"), None, date(2027, 3, 31), NOW)


def test_send_time_in_the_past() -> None:
    problems = problems_of(None, vn(2026, 12, 18, 9, 59), None, NOW)
    assert len(problems) == 1 and "đã qua" in problems[0] and "9h59" in problems[0]


def test_end_date_before_the_first_firing() -> None:
    rec = parse_recurrence("hằng ngày lúc 19h30")
    problems = problems_of(rec, vn(2026, 12, 25, 19, 30), date(2026, 12, 24), NOW)
    assert any("trước lần gửi đầu tiên" in p for p in problems)
    problems = problems_of(rec, None, date(2026, 12, 17), NOW)
    assert any("Ngày kết thúc 17/12/2026 đã qua" in p for p in problems)


def test_recurrence_that_never_fires_before_its_end_date() -> None:
    rec = parse_recurrence("hằng tháng ngày 31 lúc 8h")
    problems = problems_of(rec, vn(2027, 2, 1, 8), date(2027, 3, 30), NOW)
    assert len(problems) == 1
    assert "không có lần gửi nào" in problems[0]
    assert "tháng 2/2027, tháng 3/2027 không có ngày 31" in problems[0]
    rec = parse_recurrence("hằng tháng ngày 30 lúc 8h")
    problems = problems_of(rec, vn(2027, 2, 1), date(2027, 2, 28), NOW)
    assert any("tháng 2/2027 không có ngày 30" in p for p in problems)
    rec = parse_recurrence("hằng tuần vào thứ Hai lúc 8h")
    assert problems_of(rec, None, date(2026, 12, 20), NOW)  # Friday to Sunday has no Monday


def test_end_date_today_when_todays_firing_has_passed() -> None:
    rec = parse_recurrence("hằng ngày lúc 8h")
    assert any("không có lần gửi nào" in p for p in problems_of(rec, None, date(2026, 12, 18), NOW))


def test_end_date_without_recurrence() -> None:
    assert any(
        "lặp lại" in p for p in problems_of(None, vn(2026, 12, 20, 8), date(2026, 12, 30), NOW)
    )


def test_check_lists_every_problem() -> None:
    problems = problems_of(
        parse_recurrence("hằng ngày 8h"), vn(2026, 12, 1, 8), date(2026, 12, 10), NOW
    )
    assert len(problems) == 2
    assert "Giờ gửi" in problems[0] and "Ngày kết thúc" in problems[1]


def test_naive_times_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        check_schedule(None, datetime(2026, 12, 20, 8), None, NOW)  # noqa: DTZ001
    with pytest.raises(ValueError):
        in_quiet_hours(datetime(2026, 12, 20, 8))  # noqa: DTZ001


# ------------------------------------------------------------------ quiet hours


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (20, 59, False),
        (21, 0, True),
        (23, 59, True),
        (0, 0, True),
        (5, 59, True),
        (6, 0, False),
        (12, 0, False),
    ],
)
def test_quiet_hours_edges(hour: int, minute: int, quiet: bool) -> None:
    assert time(21) == QUIET_START and time(6) == QUIET_END
    assert in_quiet_hours(vn(2026, 12, 18, hour, minute)) is quiet


def test_quiet_hours_second_before_the_start() -> None:
    just_before = vn(2026, 12, 18, 21) - timedelta(microseconds=1)
    assert not in_quiet_hours(just_before)
    assert after_quiet_hours(just_before) == just_before


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (vn(2026, 12, 18, 20, 59), vn(2026, 12, 18, 20, 59)),
        (vn(2026, 12, 18, 21, 0), vn(2026, 12, 19, 6)),
        (vn(2026, 12, 31, 23, 30), vn(2027, 1, 1, 6)),
        (vn(2026, 12, 19, 5, 59), vn(2026, 12, 19, 6)),
        (vn(2026, 12, 19, 6, 0), vn(2026, 12, 19, 6)),
    ],
)
def test_after_quiet_hours(when: datetime, expected: datetime) -> None:
    got = after_quiet_hours(when)
    assert got == expected and got.tzinfo == UTC


def test_after_quiet_hours_accepts_other_zones() -> None:
    when = datetime(2026, 12, 18, 15, 0, tzinfo=UTC)  # 22:00 in Vietnam
    assert after_quiet_hours(when) == vn(2026, 12, 19, 6)
    assert after_quiet_hours(when.astimezone(VN)) == vn(2026, 12, 19, 6)


# ------------------------------------------------------------------ local dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20/12 19h30", vn(2026, 12, 20, 19, 30)),
        ("20/12/2026 19:30", vn(2026, 12, 20, 19, 30)),
        ("20-12-26 19h30", vn(2026, 12, 20, 19, 30)),
        ("hôm nay 14h", vn(2026, 12, 18, 14)),
        ("hom nay 14h", vn(2026, 12, 18, 14)),
        ("mai 7h", vn(2026, 12, 19, 7)),
        ("ngày mai lúc 7 giờ 30", vn(2026, 12, 19, 7, 30)),
        ("sáng mai 7h", vn(2026, 12, 19, 7)),
        ("tối nay 8h", vn(2026, 12, 18, 20)),
        ("ngày kia 9h", vn(2026, 12, 20, 9)),
        ("thứ Hai 21/12 8h", vn(2026, 12, 21, 8)),
        ("thu 2 8h", vn(2026, 12, 21, 8)),
        ("20 tháng 12 năm 2026 lúc 19h30", vn(2026, 12, 20, 19, 30)),
        ("5/1 8h", vn(2027, 1, 5, 8)),  # typed in December: next January
        ("1/12 0h", vn(2026, 12, 1, 0)),  # the nearest 1/12 is this month's (reports look back)
        ("29/2/2028 8h", vn(2028, 2, 29, 8)),
        ("19h30", vn(2026, 12, 18, 19, 30)),
        ("gửi ngay", NOW),
    ],
)
def test_parse_local_datetime(text: str, expected: datetime) -> None:
    got = parse_local_datetime(text, NOW)
    assert got == expected and got.tzinfo == UTC


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Chưa nhập giờ gửi"),
        ("20/12", "Chưa có giờ gửi"),
        ("31/2 8h", "không có thật"),
        ("29/2 8h", "năm nhuận"),
        ("20/12 25h", "25h"),
        ("thứ Bảy 21/12 8h", "là thứ Hai"),
        ("20/12 hoặc 21/12 8h", "nhiều ngày"),
        ("khi nào rảnh 8h", "Không hiểu"),
    ],
)
def test_unreadable_local_datetime(text: str, fragment: str) -> None:
    with pytest.raises(TimingError) as err:
        parse_local_datetime(text, NOW)
    assert any(fragment in p for p in err.value.problems), err.value.problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thứ sáu tuần sau 19h30", vn(2026, 12, 25, 19, 30)),
        ("thứ 6 tuần sau 8h", vn(2026, 12, 25, 8)),
        ("chủ nhật tuần sau lúc 7 giờ", vn(2026, 12, 27, 7)),
        ("thu sau tuan sau 8h", vn(2026, 12, 25, 8)),
        ("tuần sau thứ ba 8h", vn(2026, 12, 22, 8)),
        ("T2 tuần sau 7h30", vn(2026, 12, 21, 7, 30)),
        ("sáng thứ Hai tuần tới 7h", vn(2026, 12, 21, 7)),  # "tới", not "tối"
        ("thứ sáu tuần sau 25/12 19h30", vn(2026, 12, 25, 19, 30)),
        ("thứ sáu tuần này 19h30", vn(2026, 12, 18, 19, 30)),
        ("chủ nhật tuần này 8h", vn(2026, 12, 20, 8)),
    ],
)
def test_a_weekday_of_next_week_is_in_the_week_from_the_coming_monday(
    text: str, expected: datetime
) -> None:
    assert parse_local_datetime(text, NOW) == expected  # NOW is Friday 18/12/2026


def test_next_week_is_the_week_from_the_coming_monday_even_on_a_sunday() -> None:
    sunday = vn(2026, 12, 20, 10)
    assert parse_local_datetime("thứ sáu tuần sau 8h", sunday) == vn(2026, 12, 25, 8)
    assert parse_local_datetime("chủ nhật tuần sau 8h", sunday) == vn(2026, 12, 27, 8)
    assert parse_local_datetime("thứ hai tuần sau 8h", vn(2026, 12, 21, 6)) == vn(2026, 12, 28, 8)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("thứ sáu tuần sau", "Chưa có giờ gửi"),
        ("tuần sau 8h", "“tuần sau” là thứ mấy"),
        ("thứ sáu tuần sau 1/1 8h", "không thuộc “tuần sau” (từ 21/12/2026 đến 27/12/2026)"),
        ("thứ sáu tuần sau tuần này 8h", "nhiều tuần"),
    ],
)
def test_next_week_without_a_weekday_or_with_another_weeks_day_is_explained(
    text: str, fragment: str
) -> None:
    with pytest.raises(TimingError) as err:
        parse_local_datetime(text, NOW)
    assert any(fragment in p for p in err.value.problems), err.value.problems


def test_format_local() -> None:
    assert format_local(vn(2026, 12, 18, 19, 30)) == "19h30 thứ Sáu 18/12/2026"
    assert format_local(datetime(2026, 12, 20, 1, 0, tzinfo=UTC)) == "8h Chủ nhật 20/12/2026"
    assert format_local(vn(2027, 1, 4, 7, 5)) == "7h05 thứ Hai 04/01/2027"


# ------------------------------------------------------------------ property

_DAY_WORDS = ["thứ Hai", "thu 3", "thứ tư", "thu nam", "T6", "thứ Bảy", "chủ nhật"]

presets = st.one_of(
    st.tuples(
        st.just("daily"), st.just(()), st.sampled_from(["hằng ngày", "hang ngay", "Hàng Ngày"])
    ),
    st.tuples(
        st.just("weekly"),
        st.sets(st.integers(0, 6), min_size=1).map(lambda s: tuple(sorted(s))),
        st.sampled_from(["hằng tuần vào", "hang tuan vao", "mỗi tuần"]),
    ),
    st.tuples(
        st.just("monthly"),
        st.sets(st.integers(1, 32), min_size=1, max_size=3).map(lambda s: tuple(sorted(s))),
        st.sampled_from(["hằng tháng", "hang thang", "mỗi tháng"]),
    ),
)


def _text(kind: str, days: tuple[int, ...], prefix: str, at: time) -> str:
    clock = f"{at.hour}h{at.minute:02d}" if at.minute else f"{at.hour} giờ"
    if kind == "weekly":
        return f"{prefix} {', '.join(_DAY_WORDS[d] for d in days)} lúc {clock}"
    if kind == "monthly":
        parts = ["ngày cuối tháng" if d == 32 else f"ngày {d}" for d in days]
        return f"{prefix} {' và '.join(parts)} lúc {clock}"
    return f"{prefix} lúc {clock}"


def _expected_days(kind: str, rule: str) -> set[int]:
    m = re.fullmatch(rf"{kind}(?::([\w,]+))?@\d\d:\d\d", rule)
    assert m
    return {32 if d == "last" else int(d) for d in (m.group(1) or "").split(",") if d}


@settings(max_examples=150, deadline=None)
@given(
    preset=presets,
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    start=st.datetimes(
        # Hypothesis takes naive bounds and adds the zone itself.
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001
        max_value=datetime(2090, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_next_after_property(
    preset: tuple[str, tuple[int, ...], str], at: time, start: datetime
) -> None:
    kind, days, prefix = preset
    rec = parse_recurrence(_text(kind, days, prefix, at))
    assert recurrence_from_rule(rec.rule) == rec
    assert rec.rule.startswith(kind) and rec.rule.endswith(f"@{at.hour:02d}:{at.minute:02d}")
    declared = _expected_days(kind, rec.rule)
    assert declared == set(days)

    previous = start
    for _ in range(6):
        nxt = rec.next_after(previous)
        assert nxt is not None and nxt.tzinfo == UTC
        assert nxt > previous
        assert nxt - previous <= timedelta(days=62)
        wall = nxt.astimezone(VN)
        assert wall.time() == at
        if kind == "weekly":
            assert wall.weekday() in declared
        elif kind == "monthly":
            last = (wall.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            assert wall.day in declared or (32 in declared and wall.day == last.day)
        previous = nxt


@pytest.mark.parametrize(
    ("typed", "day", "problem"),
    [
        ("thứ Sáu 18/12", date(2026, 12, 18), ""),
        ("Thu 6, ngay 18 thang 12", date(2026, 12, 18), ""),
        ("19h30 thứ Bảy 19/12 tại nhà văn hoá ấp", date(2026, 12, 19), ""),
        ("thứ Sáu 20/12", date(2026, 12, 20), "Ngày 20/12/2026 là Chủ nhật, không phải “thứ Sáu”."),
        ("t2 5/1", date(2027, 1, 5), "là thứ Ba, không phải “t2”."),  # early January: next year
        ("30/2", None, "Ngày “30/2” không có thật."),
        ("tối mai", None, ""),  # no calendar day written: nothing to check
        ("thứ Ba 09/12 và thứ Tư 10/12", None, ""),  # several days: none is the one
    ],
)
def test_an_announced_day_is_read_and_its_weekday_checked(
    typed: str, day: date | None, problem: str
) -> None:
    found, problems = event_day(typed, date(2026, 12, 7))
    assert found == day
    assert (problem in " ".join(problems)) if problem else problems == []
