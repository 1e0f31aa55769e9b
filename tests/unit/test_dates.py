"""Local calendar days (Almere) as UTC bounds, including the days on which summer time starts and ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from portal.core.dates import end_of_day, start_of_day


def test_days_begin_at_local_midnight():
    assert start_of_day(None) is None
    assert end_of_day(None) is None
    assert start_of_day(date(2024, 1, 15)) == datetime(2024, 1, 14, 23, 0, tzinfo=UTC)  # winter: UTC+1
    assert start_of_day(date(2024, 6, 11)) == datetime(2024, 6, 10, 22, 0, tzinfo=UTC)  # summer: UTC+2


def test_end_of_day_follows_short_and_long_days():
    # 31 March 2024 has 23 hours, 27 October 2024 has 25.
    assert end_of_day(date(2024, 3, 31)) - start_of_day(date(2024, 3, 31)) == timedelta(hours=23)
    assert end_of_day(date(2024, 10, 27)) - start_of_day(date(2024, 10, 27)) == timedelta(hours=25)
    assert end_of_day(date(2024, 3, 31)) == datetime(2024, 3, 31, 22, 0, tzinfo=UTC)
    assert end_of_day(date(2024, 10, 27)) == datetime(2024, 10, 27, 23, 0, tzinfo=UTC)
