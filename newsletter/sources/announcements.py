"""arXiv's announcement calendar: which mornings bring new papers and which are quiet by design.

arXiv announces new submissions at 20:00 US-Eastern, Sunday to Thursday, and not on its holidays. A
morning edition on Monday to Friday therefore follows an announcement; Saturday and Sunday mornings, and
the morning after a holiday, do not. An empty fetch on those days is normal, not an outage.
"""

from __future__ import annotations

from datetime import date

# Evenings (US-Eastern dates) on which arXiv skips its announcement although it is a Sunday-Thursday.
# The fixed-date ones recur every year; arXiv publishes the full list each year.
FIXED_HOLIDAYS = {(1, 1), (12, 24), (12, 25), (12, 31)}


def is_announcement_evening(day: date) -> bool:
    """Whether arXiv announces new papers on the evening of `day` (US-Eastern)."""
    sunday_to_thursday = day.weekday() in (6, 0, 1, 2, 3)
    return sunday_to_thursday and (day.month, day.day) not in FIXED_HOLIDAYS
