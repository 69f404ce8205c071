"""Train / validation / test split by whole local solar days, in contiguous blocks spread over
the seasons, with buffer days between roles: nothing a model is scored on sits next to what it
trained on.

Scans minutes apart are nearly the same picture, and weather persists for days, so a split by
scan (or by scattered single days) validates on training data. Days are counted in local mean
solar time at each scan's sector centre, so a day boundary falls at local midnight, in the dark:
a UTC day boundary falls mid-afternoon over GOES-West, between two daylit scans minutes apart.

The days that hold written scans, in order, are cut into ``blocks`` contiguous runs (spread
over the seasons); each run ends with its validation days, then ``buffer_days`` calendar days
left out, then its test days. A training day within ``buffer_days`` calendar days of a
validation or test day is dropped: buffers cost training days, never scored ones. Every set
keeps only written scans with some daytime (``day_fraction > 0``, below the store's
``stats_sza_max``). Deterministic: the same store and settings give the same split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..store import ScanTable
from ..store.layout import SCAN_WRITTEN

TRAIN, VAL, TEST, BUFFER = 0, 1, 2, -1
UNSEEN = 3  # a day a run's record does not hold: written to the store after training
ROLE_NAMES = {TRAIN: "train", VAL: "val", TEST: "test", BUFFER: "buffer", UNSEEN: "unseen"}


CLOCKS = {"solar": "local mean solar time at each scan's sector centre", "utc": "UTC"}


@dataclass(frozen=True)
class SplitSettings:
    val_fraction: float
    test_fraction: float = 0.0
    blocks: int = 1
    buffer_days: int = 0
    # the leak-prone alternatives exist to measure a leak (tests/data/test_leak.py), not to
    # train with: UTC days cut daylit meso scenes in two, shuffled days scatter each role
    clock: str = "solar"  # or "utc"
    order: str = "blocks"  # or "shuffled": each day's role drawn at random (seeded)
    seed: int = 0


@dataclass(frozen=True)
class Split:
    """Store positions of each set (ascending) and the solar days of each role."""

    train: np.ndarray  # int64
    val: np.ndarray
    test: np.ndarray
    days: np.ndarray  # datetime64[D]: every solar day with written scans, ascending
    roles: np.ndarray  # int8, per day: TRAIN, VAL, TEST or BUFFER
    clock: str = "solar"
    order: str = "blocks"

    def days_of(self, role: int) -> np.ndarray:
        return self.days[self.roles == role]

    @property
    def val_days(self) -> np.ndarray:
        return self.days_of(VAL)

    def positions(self, name: str) -> np.ndarray:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def record(self) -> dict:
        """The split as JSON: what a run logs (and an evaluation checks it scores on)."""
        out: dict = {}
        for role in (TRAIN, VAL, TEST, BUFFER):
            days = self.days_of(role)
            out[f"{ROLE_NAMES[role]}_days"] = [str(d) for d in days]
        out.update(
            scans={"train": len(self.train), "val": len(self.val), "test": len(self.test)},
            day_counting=CLOCKS[self.clock],
            clock=self.clock,
            order=self.order,
        )
        return out


def solar_days(time: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Local mean solar day of each UTC time at longitude ``lon`` (deg east): 4 min a degree."""
    offset = np.rint(np.asarray(lon, np.float64) * 240.0).astype("timedelta64[s]")
    return (time.astype("datetime64[s]") + offset).astype("datetime64[D]")


def days_of(time: np.ndarray, lon: np.ndarray, clock: str) -> np.ndarray:
    """The day of each scan by ``clock`` (solar or utc): what a split and its record count."""
    if clock == "utc":
        return time.astype("datetime64[D]")
    return solar_days(time, lon)


def recorded_clock(record: dict) -> str:
    """The clock a recorded split counted days by (records before it was a choice: solar)."""
    return record.get("clock", "solar")


def assign_roles(days: np.ndarray, s: SplitSettings) -> np.ndarray:
    """Roles of ``days`` (ascending datetime64[D]): per block, training, then validation days,
    then a buffer, then test days; then the buffers next to scored days."""
    n = len(days)
    k_val = max(1, math.floor(s.val_fraction * n / s.blocks + 0.5)) if n else 0
    k_test = math.floor(s.test_fraction * n / s.blocks + 0.5) if s.test_fraction > 0 else 0
    if s.test_fraction > 0:
        k_test = max(k_test, 1)
    roles = np.full(n, TRAIN, np.int8)
    if s.order == "shuffled" and n >= k_val + k_test + 1:
        order = np.random.default_rng(s.seed).permutation(n)
        roles[order[:k_val]] = VAL
        roles[order[k_val : k_val + k_test]] = TEST
        return _buffer(days, roles, s.buffer_days)
    if n < s.blocks * (k_val + k_test + 1):
        raise ValueError(
            f"{n} days in {s.blocks} block(s) of {k_val} validation and {k_test} test day(s) "
            f"each (val_fraction={s.val_fraction}, test_fraction={s.test_fraction}) leave "
            "none to train on: use fewer data.split_blocks or smaller fractions"
        )
    gap = np.timedelta64(s.buffer_days, "D")
    for block in np.array_split(np.arange(n), s.blocks):
        test = block[len(block) - k_test :]
        roles[test] = TEST
        # the validation days end more than buffer_days before the first test day: the days
        # between are dropped from training, not from validation (with a buffer as long as
        # the validation run, none would be left to validate on)
        before = block[: len(block) - k_test]
        if k_test:
            before = before[days[before] < days[test[0]] - gap]
        if len(before) < k_val + 1:
            raise ValueError(
                f"a block of {len(block)} days cannot hold {k_val} validation and {k_test} "
                f"test day(s) {s.buffer_days} buffer day(s) apart and a training day: use "
                "fewer data.split_blocks, smaller fractions or fewer buffer_days"
            )
        roles[before[len(before) - k_val :]] = VAL
    return _buffer(days, roles, s.buffer_days)


def _buffer(days: np.ndarray, roles: np.ndarray, buffer_days: int) -> np.ndarray:
    """Drop training days near validation or test days, and validation days near test days."""
    out = roles.copy()
    gap = np.timedelta64(buffer_days, "D")
    for near, drop in ((TEST, (TRAIN, VAL)), (VAL, (TRAIN,))):
        for day in days[roles == near]:
            close = (np.abs(days - day) <= gap) & np.isin(roles, drop)
            out[close] = BUFFER
    return out


def split_days(table: ScanTable, s: SplitSettings, exclude: np.ndarray | None = None) -> Split:
    """The split of ``table``'s written scans (see the module doc); ``exclude``: slots kept
    out of every set (their days still count, so the split does not move with them)."""
    written = table.written == SCAN_WRITTEN
    day = days_of(table.time, table.centre_lon, s.clock)
    days = np.unique(day[written])
    if len(days) < 2:
        raise ValueError(f"the store has {len(days)} day(s) of written scans; a split needs two")
    roles = assign_roles(days, s)
    if not (roles == TRAIN).any():
        raise ValueError(
            f"val_fraction={s.val_fraction}, test_fraction={s.test_fraction} and buffer_days="
            f"{s.buffer_days} leave none of the {len(days)} days to train on"
        )
    role_of_scan = np.full(len(day), BUFFER, np.int8)
    role_of_scan[written] = roles[np.searchsorted(days, day[written])]
    usable = written & (table.day_fraction > 0)
    if exclude is not None:
        usable &= ~exclude

    def positions(role: int) -> np.ndarray:
        return np.flatnonzero(usable & (role_of_scan == role)).astype(np.int64)

    return Split(positions(TRAIN), positions(VAL), positions(TEST), days, roles, s.clock, s.order)


def recorded_roles(record: dict, days: np.ndarray, buffer_days: int) -> np.ndarray:
    """The role each of ``days`` (datetime64[D]) had in the split a run recorded
    (``Split.record``), whatever the store holds now: a store that has grown since training
    splits differently, and only the record says what the model saw. A day the record lacks
    is UNSEEN, unless it lies within ``buffer_days`` of a recorded training day (BUFFER):
    weather persists across the record's edge as it does across its blocks."""
    roles = np.full(len(days), UNSEEN, np.int8)
    for role in (TRAIN, VAL, TEST, BUFFER):
        known = np.array(record.get(f"{ROLE_NAMES[role]}_days", []), "datetime64[D]")
        roles[np.isin(days, known)] = role
    train = np.sort(np.array(record.get("train_days", []), "datetime64[D]"))
    if len(train) and (roles == UNSEEN).any():
        unseen = np.flatnonzero(roles == UNSEEN)
        at = np.searchsorted(train, days[unseen]).clip(1, len(train)) - 1
        nearest = np.minimum(
            np.abs(days[unseen] - train[at]),
            np.abs(days[unseen] - train[(at + 1).clip(max=len(train) - 1)]),
        )
        roles[unseen[nearest <= np.timedelta64(buffer_days, "D")]] = BUFFER
    return roles
