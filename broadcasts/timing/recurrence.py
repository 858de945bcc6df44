"""Recurring schedules: presets and cron, their next firings, and the checks on a campaign's timing.

Stored rules (``Recurrence.rule``, at most 100 characters, the width of ``campaigns.recurrence``):

* ``daily@19:30``
* ``weekly:0,3@19:30`` (Python weekdays: 0 is Monday, 6 is Sunday)
* ``monthly:15@08:00``, ``monthly:1,15,last@08:00`` (a day a month lacks is skipped that month)
* ``cron:30 19 * * 5`` (standard 5-field crontab: 0 and 7 are Sunday; day-of-month and
  day-of-week both restricted means either matches, as in cron)
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from apscheduler.triggers.cron import CronTrigger

from broadcasts.timing.local import (
    VN_TZ,
    WEEKDAY_NAMES,
    TimingError,
    aware,
    dmy,
    format_local,
    hm,
    join_vi,
    utc_at,
)
from broadcasts.timing.words import (
    DAY_ITEM,
    DAY_LIST,
    DAY_ONE,
    DAY_RANGE,
    TypedText,
    take_time,
    weekday_of,
)

RULE_MAX_LEN = 100  # campaigns.recurrence is String(100)
_LAST = 32  # "ngày cuối tháng" in a monthly day list; sorts after 31
_MIN_CRON_GAP = timedelta(hours=1)
# Far enough to see every valid cron fire (29 February on a given weekday recurs within 40 years).
_CRON_PROBE_FROM = datetime(2001, 1, 1, tzinfo=UTC)
_CRON_PROBE_UNTIL = datetime(2101, 1, 1, tzinfo=UTC)

_CRON_DOW_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
_CRON_FIELD_VI = ("phút", "giờ", "ngày trong tháng", "tháng", "thứ trong tuần")

_EXAMPLES = (
    "Ví dụ: “hằng ngày lúc 19h30”, “hằng tuần vào thứ Hai, thứ Năm lúc 7h”, "
    "“hằng tháng ngày 15 lúc 8h”."
)


# ------------------------------------------------------------------ the parsed rule


@dataclass(frozen=True)
class _Spec:
    kind: str  # daily, weekly, monthly, cron
    at: time | None = None
    days: tuple[int, ...] = ()  # weekdays (0 = Monday) or days of the month (_LAST = last day)
    cron: str = ""
    triggers: tuple[CronTrigger, ...] = ()

    def rule(self) -> str:
        if self.kind == "cron":
            return f"cron:{self.cron}"
        assert self.at is not None
        at = f"@{self.at.hour:02d}:{self.at.minute:02d}"
        if self.kind == "daily":
            return "daily" + at
        days = ",".join("last" if d == _LAST else str(d) for d in self.days)
        return f"{self.kind}:{days}{at}"


_RULE_PRESET = re.compile(
    r"(?P<kind>daily|weekly|monthly)(?::(?P<days>[\w,]+))?@(?P<h>\d{2}):(?P<m>\d{2})"
)


def _spec_from_rule(rule: str) -> _Spec:
    rule = rule.strip()
    bad = TimingError(
        f"Lịch lặp lại đã lưu “{rule}” không đọc được. Xin đặt lại lịch cho đợt thông báo này."
    )
    if rule.lower().startswith("cron:"):
        return _cron_spec(rule[5:])
    m = _RULE_PRESET.fullmatch(rule)
    if not m:
        raise bad
    hour, minute = int(m.group("h")), int(m.group("m"))
    if hour > 23 or minute > 59:
        raise bad
    at = time(hour, minute)
    kind, raw = m.group("kind"), m.group("days")
    if kind == "daily":
        if raw is not None:
            raise bad
        return _Spec("daily", at)
    if not raw:
        raise bad
    days: set[int] = set()
    for item in raw.split(","):
        if kind == "monthly" and item == "last":
            days.add(_LAST)
        elif item.isdigit() and (0 <= int(item) <= 6 if kind == "weekly" else 1 <= int(item) <= 31):
            days.add(int(item))
        else:
            raise bad
    return _Spec(kind, at, tuple(sorted(days)))


def _cron_dow(value: str) -> list[int] | None:
    """A crontab day-of-week field as Python weekdays, or None if it is not valid crontab."""
    names = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

    def number(token: str) -> int | None:
        if token.isdigit() and int(token) <= 7:
            return int(token)
        return names.get(token.lower())

    result: set[int] = set()
    for item in value.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            return None
        if base == "*":
            low, high = 0, 6
        elif "-" in base:
            a, _, b = base.partition("-")
            low_n, high_n = number(a), number(b)
            if low_n is None or high_n is None or low_n > high_n:
                return None
            low, high = low_n, high_n
        else:
            single = number(base)
            if single is None:
                return None
            low, high = single, (7 if step else single)
        result.update((n - 1) % 7 for n in range(low, high + 1, step or 1))
    return sorted(result)


def _cron_spec(expr: str) -> _Spec:
    expr = " ".join(expr.split())
    fields = expr.split(" ") if expr else []
    if len(fields) != 5:
        raise TimingError(
            f"Biểu thức cron “{expr}” cần đúng 5 phần: phút, giờ, ngày trong tháng, tháng, thứ trong tuần "
            "(ví dụ “cron: 30 19 * * 5” là 19h30 thứ Sáu hằng tuần)."
        )
    problems: list[str] = []
    dow = _cron_dow(fields[4])
    for name, vi, value in zip(_CRON_FIELDS[:4], _CRON_FIELD_VI, fields, strict=False):
        try:
            CronTrigger(**{name: value}, timezone=VN_TZ)
        except ValueError:
            problems.append(f"Biểu thức cron “{expr}”: phần {vi} “{value}” không đúng.")
    if dow is None or not dow:
        problems.append(
            f"Biểu thức cron “{expr}”: phần {_CRON_FIELD_VI[4]} “{fields[4]}” không đúng."
        )
    if len("cron:" + expr) > RULE_MAX_LEN:
        problems.append(f"Biểu thức cron quá dài (tối đa {RULE_MAX_LEN - 5} ký tự).")
    if problems:
        raise TimingError(problems)
    assert dow is not None
    minute, hour, day, month, dow_field = fields
    dow_names = "*" if len(dow) == 7 else ",".join(_CRON_DOW_NAMES[d] for d in dow)
    if not day.startswith("*") and not dow_field.startswith("*"):
        # Crontab: with both restricted, a day matching either one fires.
        parts: tuple[tuple[str, str, str, str, str], ...] = (
            (minute, hour, day, month, "*"),
            (minute, hour, "*", month, dow_names),
        )
    else:
        parts = ((minute, hour, day, month, dow_names),)
    try:
        triggers = _make_triggers(parts)
    except ValueError as exc:
        raise TimingError(f"Biểu thức cron “{expr}” không đúng.") from exc
    probe = _make_triggers(parts, end_date=_CRON_PROBE_UNTIL)
    first = _cron_next(probe, _CRON_PROBE_FROM)
    if first is None:
        raise TimingError(
            f"Biểu thức cron “{expr}” không bao giờ tới lượt gửi (ví dụ ngày 30 tháng 2 không có thật)."
        )
    second = _cron_next(probe, first)
    if second is not None and second - first < _MIN_CRON_GAP:
        raise TimingError(
            f"Biểu thức cron “{expr}” gửi cách nhau chưa tới 1 giờ; bà con sẽ bị làm phiền. "
            "Mỗi lịch chỉ nên gửi nhiều nhất một lần mỗi giờ."
        )
    return _Spec("cron", cron=expr, triggers=triggers)


def _make_triggers(
    parts: tuple[tuple[str, str, str, str, str], ...], end_date: datetime | None = None
) -> tuple[CronTrigger, ...]:
    return tuple(
        CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=dow,
            timezone=VN_TZ,
            end_date=end_date,
        )
        for minute, hour, day, month, dow in parts
    )


def _cron_next(triggers: Iterable[CronTrigger], after: datetime) -> datetime | None:
    # apscheduler returns the first firing at or after `now`, rounded up to the second.
    start = after.astimezone(UTC) + timedelta(microseconds=1)
    best: datetime | None = None
    for trigger in triggers:
        try:
            nxt = trigger.get_next_fire_time(None, start)
        except (OverflowError, ValueError):
            nxt = None
        if nxt is not None and (best is None or nxt < best):
            best = nxt
    return None if best is None else best.astimezone(UTC)


def _month_days(spec: _Spec, year: int, month: int) -> list[int]:
    length = calendar.monthrange(year, month)[1]
    return sorted({length if d == _LAST else d for d in spec.days if d == _LAST or d <= length})


def _preset_next(spec: _Spec, after: datetime) -> datetime | None:
    assert spec.at is not None
    local = after.astimezone(VN_TZ)
    day = local.date()
    try:
        if spec.kind == "daily":
            for i in range(2):
                cand = utc_at(day + timedelta(days=i), spec.at)
                if cand > after:
                    return cand
        elif spec.kind == "weekly":
            for i in range(8):
                d = day + timedelta(days=i)
                if d.weekday() in spec.days:
                    cand = utc_at(d, spec.at)
                    if cand > after:
                        return cand
        else:
            year, month = day.year, day.month
            for _ in range(13):
                for dd in _month_days(spec, year, month):
                    cand = utc_at(date(year, month, dd), spec.at)
                    if cand > after:
                        return cand
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    except (OverflowError, ValueError):  # past the year 9999
        return None
    return None


# ------------------------------------------------------------------ public API


@dataclass(frozen=True)
class Recurrence:
    """A validated recurring schedule; ``rule`` is its normalised, stored form."""

    rule: str
    _spec: _Spec = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        spec = _spec_from_rule(self.rule)
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "rule", spec.rule())

    def describe(self) -> str:
        """The schedule in Vietnamese for the official, e.g. "Hằng tuần vào thứ Hai, thứ Năm lúc 19h30"."""
        spec = self._spec
        if spec.kind == "cron":
            return f"Theo lịch cron “{spec.cron}” (giờ Việt Nam)"
        assert spec.at is not None
        at = f"lúc {hm(spec.at)}"
        if spec.kind == "daily":
            return f"Hằng ngày {at}"
        if spec.kind == "weekly":
            return f"Hằng tuần vào {join_vi([WEEKDAY_NAMES[d] for d in spec.days])} {at}"
        days = join_vi(["ngày cuối tháng" if d == _LAST else f"ngày {d}" for d in spec.days])
        text = f"Hằng tháng vào {days} {at}"
        short = [d for d in spec.days if 29 <= d <= 31]
        if short:
            missing = join_vi([f"ngày {d}" for d in short])
            text += f" (tháng nào không có {missing} thì không gửi ngày đó)"
        return text

    def next_after(self, after: datetime) -> datetime | None:
        """The next firing strictly after ``after`` (aware), as aware UTC; None if it never fires again."""
        after = aware(after, "after").astimezone(UTC)
        if self._spec.kind == "cron":
            return _cron_next(self._spec.triggers, after)
        return _preset_next(self._spec, after)


_MONTH_LAST = re.compile(
    r"\b(?:(?:vao\s+)?ngay\s+)?cuoi\s+(?:cung\s+)?(?:cua\s+)?(?:moi\s+|hang\s+|cac\s+)?thang\b"
)
_MONTH_DAYS = re.compile(
    r"\b(?:ngay|mung|mong)\s*(?P<list>\d{1,3}(?:\s*(?:,|\bva\b|\bngay\b|\bmung\b|\bmong\b)\s*\d{1,3})*)\b"
)
_KW_DAILY = re.compile(r"\b(?:hang|moi)\s+ngay\b")
_KW_WEEKLY = re.compile(r"\b(?:hang|moi)\s+tuan\b")
_KW_MONTHLY = re.compile(r"\b(?:hang|moi)\s+thang\b")
_LUNAR = re.compile(r"\b(?:am\s+lich|al)\b")
_CRON_PREFIX = re.compile(r"\s*cron\s*[:=]?\s*", re.IGNORECASE)
_BARE_CRON = re.compile(r"\s*[\d*/,\-]+(?:\s+[\d*/,\-]+){2}(?:\s+[\w*/,\-]+){2}\s*")
_RECURRENCE_FILLERS = frozenset(
    [
        "vao",
        "luc",
        "moi",
        "hang",
        "cac",
        "ngay",
        "va",
        "gui",
        "tu",
        "den",
        "trong",
        "tuan",
        "thang",
        "cua",
        "nhung",
        "thong",
        "bao",
    ]
)


def parse_recurrence(text: str, *, default_time: time | None = None) -> Recurrence:
    """Read an official's recurrence ("hằng tuần vào thứ Sáu lúc 19h30", "cron: 30 19 * * 5")."""
    if not text or not text.strip():
        raise TimingError("Chưa nhập lịch lặp lại. " + _EXAMPLES)
    prefix = _CRON_PREFIX.match(text)
    if prefix:
        return Recurrence("cron:" + text[prefix.end() :])
    if _BARE_CRON.fullmatch(text):
        return Recurrence("cron:" + text)

    problems: list[str] = []
    txt = TypedText(text)
    if txt.take(_LUNAR):
        problems.append(
            "Lịch âm chưa được hỗ trợ; xin ghi theo lịch dương (ví dụ “hằng tháng ngày 15”)."
        )
    weekdays: set[int] = set()
    for m in txt.take(DAY_RANGE):  # before the time, so "tới" is not read as "tối"
        a, b = weekday_of(m.group("a")), weekday_of(m.group("b"))
        weekdays.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    at = take_time(txt, problems)
    for m in txt.take(DAY_LIST):
        items = [weekday_of("thu" + n) for n in re.findall(DAY_ITEM, m.group("list"))]
        if len(items) == 2 and "-" in m.group("list"):  # "thứ 2-6": Monday to Friday
            items = [(items[0] + i) % 7 for i in range((items[1] - items[0]) % 7 + 1)]
        weekdays.update(items)
    for m in txt.take(DAY_ONE):
        weekdays.add(weekday_of(m.group()))

    monthdays: set[int] = set()
    last_day = bool(txt.take(_MONTH_LAST))
    bad_day = False
    if last_day:
        monthdays.add(_LAST)
    for m in txt.take(_MONTH_DAYS):
        for n in (int(x) for x in re.findall(r"\d+", m.group("list"))):
            if 1 <= n <= 31:
                monthdays.add(n)
            else:
                bad_day = True
                problems.append(f"Không có ngày {n} trong tháng; ngày trong tháng từ 1 đến 31.")

    daily, weekly, monthly = (bool(txt.take(kw)) for kw in (_KW_DAILY, _KW_WEEKLY, _KW_MONTHLY))
    monthly = monthly or last_day
    for left in txt.leftovers(_RECURRENCE_FILLERS):
        problems.append(f"Không hiểu “{left}”.")

    kind = ""
    if weekdays and monthdays:
        problems.append(
            "Lịch vừa có thứ trong tuần vừa có ngày trong tháng; xin chọn một trong hai."
        )
    elif daily and (weekdays or monthdays or weekly or monthly):
        problems.append(
            "“Hằng ngày” không đi cùng thứ hay ngày trong tháng; xin chọn một kiểu lặp lại."
        )
    elif daily:
        kind = "daily"
    elif weekdays and not monthly:
        kind = "weekly"
    elif monthdays and not weekly:
        if monthly:
            kind = "monthly"
        else:
            first = "ngày cuối tháng" if min(monthdays) == _LAST else f"ngày {min(monthdays)}"
            problems.append(
                f"Ý là gửi hằng tháng vào {first} phải không? Xin ghi rõ “hằng tháng {first}”."
            )
    elif weekly:
        problems.append("Chưa ghi thứ mấy trong tuần, ví dụ “hằng tuần vào thứ Hai”.")
    elif monthly and not bad_day:
        problems.append(
            "Chưa ghi ngày nào trong tháng, ví dụ “hằng tháng ngày 15” hoặc “ngày cuối tháng”."
        )
    elif not problems:
        problems.append("Không nhận ra lịch lặp lại. " + _EXAMPLES)
    else:
        problems.append(_EXAMPLES)

    if at is None:
        at = default_time.replace(second=0, microsecond=0, tzinfo=None) if default_time else None
        if at is None and not any(p.startswith(("Có nhiều giờ", "Giờ “")) for p in problems):
            problems.append(
                "Chưa có giờ gửi. Xin ghi thêm giờ, ví dụ “lúc 19h30” hoặc “7 giờ sáng”."
            )
    if problems or at is None:
        raise TimingError(problems)
    days = weekdays if kind == "weekly" else monthdays if kind == "monthly" else set()
    return Recurrence(_Spec(kind, at, tuple(sorted(days))).rule())


def recurrence_from_rule(rule: str) -> Recurrence:
    """The Recurrence stored as ``rule`` (the inverse of ``Recurrence.rule``)."""
    return Recurrence(rule)


def firings(rec: Recurrence, start: datetime, ends_on: date | None, limit: int) -> list[datetime]:
    """Up to ``limit`` UTC firings from ``start`` (inclusive) to the end of ``ends_on`` in VN time."""
    found: list[datetime] = []
    cursor = aware(start, "start").astimezone(UTC) - timedelta(microseconds=1)
    while len(found) < limit:
        nxt = rec.next_after(cursor)
        if nxt is None or (ends_on is not None and nxt.astimezone(VN_TZ).date() > ends_on):
            break
        found.append(nxt)
        cursor = nxt
    return found


def _missing_months(rec: Recurrence, first: date, last: date) -> str:
    """Why a monthly rule has no day in [first, last]: "tháng 2/2026 không có ngày 30"."""
    months: list[str] = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month) and len(months) < 12:
        months.append(f"tháng {m}/{y}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    wanted = join_vi([f"ngày {d}" for d in rec._spec.days if d != _LAST])
    return f"{join_vi(months)} không có {wanted}"


def check_schedule(
    rec: Recurrence | None, send_at: datetime | None, ends_on: date | None, now: datetime
) -> None:
    """Raise TimingError listing every problem with a campaign's timing; return None if it is fine."""
    now = aware(now, "now").astimezone(UTC)
    today = now.astimezone(VN_TZ).date()
    problems: list[str] = []
    if send_at is not None:
        send_at = aware(send_at, "send_at").astimezone(UTC)
        if send_at < now:
            problems.append(
                f"Giờ gửi {format_local(send_at)} đã qua (bây giờ là {format_local(now)}). "
                "Xin chọn giờ gửi sau bây giờ, hoặc chọn “gửi ngay”."
            )
    start = send_at if send_at is not None and send_at >= now else now
    start_day = start.astimezone(VN_TZ).date()
    if ends_on is not None and rec is None:
        problems.append(
            "Ngày kết thúc chỉ dùng cho thông báo lặp lại. Xin bỏ ngày kết thúc hoặc chọn lịch lặp lại."
        )
    elif ends_on is not None and ends_on < today:
        problems.append(
            f"Ngày kết thúc {dmy(ends_on)} đã qua. Xin chọn ngày kết thúc từ hôm nay trở đi."
        )
    elif ends_on is not None and ends_on < start_day:
        problems.append(
            f"Ngày kết thúc {dmy(ends_on)} trước lần gửi đầu tiên ({format_local(start)}). "
            "Xin chọn ngày kết thúc muộn hơn."
        )
    elif rec is not None:
        first = rec.next_after(start - timedelta(microseconds=1))
        if first is None:
            problems.append(f"Lịch “{rec.describe()}” không còn lần gửi nào. Xin chọn lịch khác.")
        elif ends_on is not None and first.astimezone(VN_TZ).date() > ends_on:
            why = ""
            if rec._spec.kind == "monthly" and _LAST not in rec._spec.days:
                why = f" vì {_missing_months(rec, start_day, ends_on)}"
            problems.append(
                f"Lịch “{rec.describe()}” không có lần gửi nào từ {format_local(start)} "
                f"đến hết ngày {dmy(ends_on)}{why}. Lần gửi gần nhất là {format_local(first)}; "
                "xin lùi ngày kết thúc hoặc đổi lịch."
            )
    if problems:
        raise TimingError(problems)
