"""Date windows: how a date range becomes a list of export jobs.

Both APIs export a date range per job and cap its length (People.ai: a snapshot covers at
most one year, a delta at most 14 days). A sync therefore walks the range in windows, and the
bookmark records the last *day* whose window has been completely emitted. Days are whole UTC
days, both ends inclusive, exactly as the People.ai document defines its ``start_date`` and
``end_date``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

ONE_DAY = dt.timedelta(days=1)
DELTA_MAX_DAYS = 14


@dataclass(frozen=True, order=True)
class Window:
    """An inclusive range of UTC days exported by one job."""

    start: dt.date
    end: dt.date

    @property
    def key(self) -> str:
        """Stable text form, used in state and log lines."""
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def days(self) -> int:
        """Number of days covered, both ends included."""
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        """Show the window as it appears in state and errors."""
        return self.key


def add_years(day: dt.date, years: int) -> dt.date:
    """Return the same calendar day ``years`` later (29 Feb falls back to 28 Feb)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def snapshot_windows(start: dt.date, end: dt.date) -> Iterator[Window]:
    """Windows of at most one year (the snapshot limit) covering ``start..end``.

    A window ends the day before the same date one year later, so 2024-01-01 gives
    2024-01-01..2024-12-31: 366 days in a leap year, never a day over the limit.
    """
    current = start
    while current <= end:
        last = min(add_years(current, 1) - ONE_DAY, end)
        yield Window(current, last)
        current = last + ONE_DAY


def snapshot_windows_back(start: dt.date, end: dt.date) -> Iterator[Window]:
    """Windows of at most one year covering ``start..end``, the newest first.

    Each ends the day before a window of :func:`snapshot_windows` would end, a year after
    its start; a backfill walks back from the first day already loaded this way, so a run
    that stops part-way plans the same remaining windows again.
    """
    current = end
    while current >= start:
        first = add_years(current + ONE_DAY, -1)
        if add_years(first, 1) - ONE_DAY < current:  # 29 Feb: a year back is 28 Feb
            first += ONE_DAY
        first = max(first, start)
        yield Window(first, current)
        current = first - ONE_DAY


def fixed_windows(start: dt.date, end: dt.date, days: int) -> Iterator[Window]:
    """Windows of at most ``days`` days covering ``start..end`` (delta exports use 14)."""
    if days < 1:
        msg = "a window needs at least one day"
        raise ValueError(msg)
    current = start
    span = dt.timedelta(days=days - 1)
    while current <= end:
        last = min(current + span, end)
        yield Window(current, last)
        current = last + ONE_DAY
