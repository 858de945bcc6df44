"""Campaign timing: recurrence presets and cron, schedule checks, quiet hours, local date parsing.

Everything here is a pure function of its arguments: ``local`` (the zone, quiet hours, how times
are written), ``words`` (times and weekdays as officials type them), ``recurrence`` (rules, firings,
schedule checks) and ``dates`` (one date and time typed by an official).
"""

from broadcasts.timing.dates import event_day, parse_local_datetime
from broadcasts.timing.local import (
    QUIET_END,
    QUIET_START,
    VN_TZ,
    WEEKDAY_NAMES,
    TimingError,
    after_quiet_hours,
    dmy,
    format_local,
    in_quiet_hours,
    to_local,
)
from broadcasts.timing.recurrence import (
    RULE_MAX_LEN,
    Recurrence,
    check_schedule,
    firings,
    parse_recurrence,
    recurrence_from_rule,
)

__all__ = [
    "QUIET_END",
    "QUIET_START",
    "RULE_MAX_LEN",
    "VN_TZ",
    "WEEKDAY_NAMES",
    "Recurrence",
    "TimingError",
    "after_quiet_hours",
    "check_schedule",
    "dmy",
    "event_day",
    "firings",
    "format_local",
    "in_quiet_hours",
    "parse_local_datetime",
    "parse_recurrence",
    "recurrence_from_rule",
    "to_local",
]
