"""Persistent weather for the synthetic archive: cloud systems that are born, drift and decay
over days, the same system in every scan that sees it.

Why: the weather of neighbouring days is shared (tropical cyclones, atmospheric rivers and
blocking patterns last 5-14 days), so a split that puts one system in training and in test
leaks. Fresh clouds for every scan (``weather="fresh"``) hide such a leak; with
``weather="persistent"`` a test can see it.

Each system keeps its own cloud-top height and optical thickness for its whole life. The
thickness is hidden from the infrared once the cloud is opaque (emissivity 1 - exp(-tau/2) is
0.98 at tau 8), while the visible albedo tau / (tau + 7.7) goes on rising with it: an opaque
system's brightness can only be known from its infrared signature (cloud-top temperature) by
having seen that system, which is what a leak looks like.

Systems are drawn per UTC day from (seed, satellite, sector, day), so the systems of any scan
are known without generating the rest of the archive, and archives of different periods agree
where they overlap.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np

BIRTHS_PER_DAY = 0.5
LIFE_DAYS = (3.0, 6.0)  # shorter than a 7-day buffer: a buffer that long separates systems
WAVES = 6  # sinusoids of each system's texture, fixed in the system's own frame
EPOCH = datetime(2000, 1, 1)


@dataclass(frozen=True)
class System:
    """One cloud system: where and when it lives, and its fixed cloud properties."""

    born: float  # days since EPOCH
    life: float  # days
    lon: float  # centre at birth (deg)
    lat: float
    u: float  # drift (deg/day east, north)
    v: float
    radius: float  # e-folding radius (deg)
    top_km: float  # cloud-top height
    tau: float  # optical thickness of its core
    waves: np.ndarray  # (WAVES, 4): wavenumbers x, y (rad/deg), phase, amplitude

    def strength(self, t: float) -> float:
        """0 before birth and after death, rising and decaying smoothly over its life."""
        age = (t - self.born) / self.life
        return float(np.sin(np.pi * age)) if 0.0 < age < 1.0 else 0.0

    def cover(self, lon: np.ndarray, lat: np.ndarray, t: float) -> np.ndarray:
        """Cloudiness in [0, ~1.5] of this system at ``t``: a textured blob that drifts."""
        dt = t - self.born
        dx = (lon - (self.lon + self.u * dt)) * np.cos(np.radians(self.lat))
        dy = lat - (self.lat + self.v * dt)
        blob = np.exp(-(dx * dx + dy * dy) / self.radius**2)
        texture = sum(a * np.sin(kx * dx + ky * dy + p) for kx, ky, p, a in self.waves)
        return self.strength(t) * blob * (1.0 + texture)


def _day_rng(seed: int, key: int, day: int) -> np.random.Generator:
    return np.random.default_rng([seed, key, 0x3EA7, day])


def _draw(rng: np.random.Generator, day: int, lon0: float, lat0: float) -> System:
    k = rng.uniform(2.0, 8.0, WAVES)  # wavelengths ~0.8-3 deg
    angle = rng.uniform(0.0, 2.0 * np.pi, WAVES)
    amp = rng.uniform(0.5, 1.0, WAVES)
    phase = rng.uniform(0.0, 2.0 * np.pi, WAVES)
    waves = np.stack(
        [k * np.cos(angle), k * np.sin(angle), phase, 0.5 * amp / amp.sum()], axis=1
    ).astype(np.float32)
    albedo = rng.uniform(0.45, 0.95)  # of the core: tau 6-146, opaque to the IR throughout
    return System(
        born=day + rng.uniform(0.0, 1.0),
        life=rng.uniform(*LIFE_DAYS),
        lon=lon0 + rng.uniform(-6.0, 6.0),
        lat=lat0 + rng.uniform(-5.0, 5.0),
        u=rng.normal(0.0, 1.0),
        v=rng.normal(0.0, 0.6),
        radius=rng.uniform(1.5, 3.5),
        top_km=rng.uniform(2.0, 13.0),
        tau=float(7.7 * albedo / (1.0 - albedo)),  # two-stream: albedo tau / (tau + 7.7)
        waves=waves,
    )


class Weather:
    """The systems of one (seed, satellite, sector) around the sector's home (lon, lat)."""

    def __init__(self, seed: int, satellite: str, sector: str, home: tuple[float, float]):
        self.seed = seed
        self.key = zlib.crc32(f"weather{satellite}{sector}".encode())
        self.home = home
        self._born_on: dict[int, list[System]] = {}

    def _born(self, day: int) -> list[System]:
        if day not in self._born_on:
            rng = _day_rng(self.seed, self.key, day)
            n = rng.poisson(BIRTHS_PER_DAY)
            self._born_on[day] = [_draw(rng, day, *self.home) for _ in range(n)]
        return self._born_on[day]

    def alive(self, when: datetime) -> tuple[float, list[System]]:
        """Days since EPOCH of ``when`` and the systems alive then."""
        t = (when - EPOCH).total_seconds() / 86400.0
        first = int(np.floor(t - LIFE_DAYS[1])) - 1
        systems = [s for d in range(first, int(t) + 1) for s in self._born(d)]
        return t, [s for s in systems if s.strength(t) > 0.0]

    def clouds(
        self, lon: np.ndarray, lat: np.ndarray, when: datetime
    ) -> tuple[np.ndarray, np.ndarray]:
        """(optical thickness, cloud-top height km) at ``when``: where systems overlap, the
        strongest one's properties."""
        t, systems = self.alive(when)
        tau = np.zeros(lon.shape, np.float32)
        top = np.full(lon.shape, 1.0, np.float32)
        best = np.zeros(lon.shape, np.float32)
        for s in systems:
            cover = s.cover(lon, lat, t).astype(np.float32)
            wins = cover > best
            best = np.where(wins, cover, best)
            tau = np.where(wins, s.tau * np.clip((cover - 0.2) / 0.05, 0.0, 1.0), tau)
            top = np.where(wins, s.top_km, top)
        return tau, top
