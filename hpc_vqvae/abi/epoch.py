"""J2000 (2000-01-01 12:00 UTC): the epoch of the L1b files' ``t`` and ``time_bounds``, of the
solar ephemeris, and of the stores' time encoding."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

J2000 = datetime(2000, 1, 1, 12)
J2000_NS = np.datetime64(J2000, "ns")


def from_j2000(seconds: float) -> datetime:
    """Seconds since J2000 (as L1b files store them) -> naive UTC datetime."""
    return J2000 + timedelta(seconds=float(seconds))


def seconds_since_j2000(t: datetime) -> float:
    return (t - J2000).total_seconds()


def days_since_j2000(t: datetime | np.datetime64) -> float:
    return float((np.datetime64(t, "ns") - J2000_NS) / np.timedelta64(1, "D"))
