"""The declarative base of every table and the column types they share."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import ExecutionContext
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from bot.text import fold


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return aware UTC datetimes."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_text(value: Any) -> str:
    """JSON text with Vietnamese kept as UTF-8: a third smaller than \\u escapes, and readable."""
    return json.dumps(value, ensure_ascii=False)


class Base(DeclarativeBase):
    """Declarative base of every table."""


def folded(values: list[Any]) -> str:
    """The search key of some text columns: joined, lowercase, without diacritics."""
    return fold(" ".join(str(v) for v in values if v))


def folded_default(*columns: str) -> Callable[[ExecutionContext], str]:
    """A column default that folds these columns of the row being inserted (bulk inserts too)."""

    def default(context: ExecutionContext) -> str:
        params = context.get_current_parameters()  # type: ignore[attr-defined]
        return folded([params.get(c) for c in columns])

    return default


def keep_folded(model: type[Base], key: str, *columns: str) -> None:
    """Recompute `key` from `columns` whenever the ORM updates a row of `model`.

    Searching "nguyen" finds "Nguyễn" on every database without an extension (SQLite's lower()
    knows ASCII only, and PostgreSQL's unaccent is not always installed)."""

    @event.listens_for(model, "before_update")
    def refold(_mapper: Any, _connection: Any, target: Any) -> None:
        setattr(target, key, folded([getattr(target, c) for c in columns]))
