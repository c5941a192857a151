"""The interval a figure covers and which dialogs it counts: a Period is [start, end) in the tenant's time zone (a
local day, several days, today so far), Filters narrow the dialogs to a channel, a manager or a manager group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select

from ...models import Dialog


@dataclass(frozen=True)
class Period:
    """[start, end) as aware datetimes; `timezone` is the tenant's, for days and hours."""

    start: datetime
    end: datetime
    timezone: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs aware datetimes")
        if self.end < self.start:
            raise ValueError("a period ends after it starts")
        ZoneInfo(self.timezone)  # an unknown zone fails here, not in SQL

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @staticmethod
    def midnight(day: date, timezone: str) -> datetime:
        return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))

    @classmethod
    def day(cls, day: date, timezone: str) -> Period:
        """One whole local day."""
        return cls(cls.midnight(day, timezone), cls.midnight(day + timedelta(days=1), timezone), timezone)

    @classmethod
    def days(cls, first: date, last: date, timezone: str) -> Period:
        """Local days `first` to `last`, both included."""
        return cls(cls.midnight(first, timezone), cls.midnight(last + timedelta(days=1), timezone), timezone)

    @classmethod
    def day_until(cls, day: date, end: datetime, timezone: str) -> Period:
        """A local day from its midnight until `end` (today so far)."""
        start = cls.midnight(day, timezone)
        return cls(start, max(start, end), timezone)

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.zone)


@dataclass(frozen=True)
class Filters:
    """Narrow the dialogs counted. `manager_id` is the staff member a dialog is assigned to."""

    channel_id: int | None = None
    manager_id: int | None = None
    manager_group_id: int | None = None

    def apply(self, query: Select, dialog=Dialog) -> Select:
        if self.channel_id is not None:
            query = query.where(dialog.channel_id == self.channel_id)
        if self.manager_id is not None:
            query = query.where(dialog.assignee_id == self.manager_id)
        if self.manager_group_id is not None:
            query = query.where(dialog.manager_group_id == self.manager_group_id)
        return query


NO_FILTERS = Filters()
