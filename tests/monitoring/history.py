"""A month of hand-made history for a service with job="history", one sample a
minute, and the numbers a person computes from it by hand:

- requests (`http_requests_total`, status 200 and 500): 600 a minute, always;
  of them 500s: 30 a minute in the last hour (5 %), 3 a minute in the five
  hours before (0.5 %), 60 a minute for two hours 20 days ago (10 %), none else.
- scrapes (`up`): 1, except 30 minutes at 0 five days ago.

Counters start high so that rate()'s extrapolation towards zero never applies:
the ratio of two counters sampled at the same instants is then exact."""
import time
from datetime import datetime, timezone

MINUTE = 60
DAYS = 31
SELECTOR = 'job="history"'


def last_minute():
    """The start of the current minute: the time of the last sample."""
    return datetime.fromtimestamp(time.time() // MINUTE * MINUTE, tz=timezone.utc)


def errors_in_minute(age):
    """500s in the minute ending `age` minutes before the end."""
    if age < 60:
        return 30
    if age < 360:
        return 3
    if 20 * 1440 <= age < 20 * 1440 + 120:
        return 60
    return 0


def up_at(age):
    return 0 if 5 * 1440 <= age < 5 * 1440 + 30 else 1


def openmetrics(end):
    last = int(end.timestamp())
    ages = range(DAYS * 1440, -1, -1)  # oldest first
    good, bad = 5_000_000, 1_000_000
    good_lines, bad_lines, up_lines = [], [], []
    for age in ages:
        at = last - age * MINUTE
        if age < DAYS * 1440:  # the first sample is the counters' starting point
            errors = errors_in_minute(age)
            good += 600 - errors
            bad += errors
        good_lines.append(f'http_requests_total{{job="history",status="200"}} {good} {at}')
        bad_lines.append(f'http_requests_total{{job="history",status="500"}} {bad} {at}')
        up_lines.append(f'up{{job="history"}} {up_at(age)} {at}')
    return "\n".join(["# TYPE http_requests counter", *good_lines, *bad_lines,
                      "# TYPE up gauge", *up_lines, "# EOF"]) + "\n"


# What the test SLOs' numbers must be, computed by hand (see the module docstring).
# Error rate, target 99.9 % (0.1 % may fail) over 30 days:
#   500s in the window: 60 x 30 + 300 x 3 + 120 x 60 = 9,900 of 43,200 x 600 = 25,920,000 requests
ERROR_RATIO_30D = 9_900 / 25_920_000                  # 0.038 %
BUDGET_LEFT = 1 - ERROR_RATIO_30D / 0.001             # 61.8 %
BURN_1H = (1_800 / 36_000) / 0.001                    # 5 % failed: 50x
BURN_6H = (2_700 / 216_000) / 0.001                   # 1.25 % failed: 12.5x
# Availability, target 99.9 % over 30 days: 30 failed scrapes of the 43,201 in the
# closed window [end - 30 d, end] (one a minute, both ends included).
AVAILABILITY_RATIO_30D = 30 / 43_201
AVAILABILITY_LEFT = 1 - AVAILABILITY_RATIO_30D / 0.001  # 30.6 %
