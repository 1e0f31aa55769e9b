"""Calendar days as people in Almere mean them. A date typed into a form is a local day; the database stores UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_TIME = ZoneInfo("Europe/Amsterdam")


def local_today() -> date:
    return datetime.now(LOCAL_TIME).date()


def start_of_day(day: date | None) -> datetime | None:
    """A calendar day in Almere as the UTC moment it begins."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_TIME).astimezone(UTC) if day else None


def end_of_day(day: date | None) -> datetime | None:
    """The UTC moment the local day after ``day`` begins: an exclusive bound for "up to and including ``day``".
    (Not ``start_of_day(day) + 1 day``: a day on which summer time starts or ends has 23 or 25 hours.)"""
    return start_of_day(day + timedelta(days=1)) if day else None
