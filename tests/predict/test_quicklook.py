"""The quicklook a forecaster reads, drawn for the real GOES-17 meso scans in
../shared/abi-samples: its title, the IR's fixed scale and colour bar, and a map in the scan's
own view: coastlines where the real scan shows the coast, borders, and lat/lon lines where the
scan's geolocation puts those latitudes and longitudes. The panels' pixels are the real bands
(the model's output is tested in test_predict; here what is drawn around it is)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from hpc_vqvae.abi.geometry import fixed_grid_lonlat, lonlat_to_fixed_grid
from hpc_vqvae.abi.grid import GridSettings, grid_scan
from hpc_vqvae.abi.projection import FixedGridProjection
from hpc_vqvae.abi.synthetic.sectors import FULL_DISK_EDGE
from hpc_vqvae.predict import maplines
from hpc_vqvae.predict.quicklook import (
    BT_RANGE,
    Scene,
    figure,
    ir_band,
    is_quicklook,
    quicklook,
)
from tests.helpers.real import sample_files

NIGHT, DAY = "s2019335", "s2019300"  # 2019-12-01 10:27 and 2019-10-27 20:00 UTC, G17 M1


def _scan(stamp: str, bands: list[str]):
    files = {f.name.split("-M6")[1][:3]: f for f in sample_files() if stamp in f.name}
    return grid_scan(files, bands, GridSettings())


def _scene(scan) -> Scene:
    frame = maplines.Frame(scan.x, scan.y, scan.projection)
    when = np.datetime64(scan.attrs["start_time"])
    return Scene(scan.attrs["platform"], scan.attrs["sector"], when, frame)


@pytest.fixture(scope="module")
def night(sample_dir):
    return _scan(NIGHT, ["C13", "C01", "C02", "C03"])


@pytest.fixture(scope="module")
def night_figure(night):
    import matplotlib.pyplot as plt

    rgb = np.stack([night.bands[b] for b in ("C02", "C03", "C01")])
    fig = figure(_scene(night), night.bands["C13"], "C13", rgb, None)
    yield fig
    plt.close(fig)


def _by_gid(ax, gid: str) -> list:
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_title_names_satellite_sector_time_and_synthetic(night_figure):
    text = night_figure._suptitle.get_text()
    assert "GOES-17" in text and "Mesoscale-1" in text
    assert "2019-12-01 10:27:27 UTC" in text  # the scan's start, to the second
    assert "SYNTHETIC" in text
    titles = [ax.get_title() for ax in night_figure.axes if ax.get_title()]
    assert titles == ["IR C13 (10.3 µm), observed", "visible: SYNTHETIC (AI-generated from IR)"]


@pytest.mark.parametrize("blended", [False, True])
def test_the_quicklook_and_an_animation_frame_say_the_same(night, blended):
    """Both name the satellite, sector and what the visible is, from one place: a blended
    range's frames must not call the observed daylight synthetic."""
    import matplotlib.pyplot as plt

    from hpc_vqvae.predict.animation import frame_figure

    rgb = np.stack([night.bands[b] for b in ("C02", "C03", "C01")])
    look = figure(_scene(night), night.bands["C13"], "C13", rgb, None, blended=blended)
    frame = frame_figure(_scene(night), rgb, blended=blended)
    head, stamp, under = (t.get_text() for t in frame.texts)
    title = look._suptitle.get_text()
    assert head.startswith("GOES-17 ABI Mesoscale-1") and title.startswith(head.split(":")[0])
    assert stamp == "2019-12-01 10:27:27 UTC" and stamp in title
    said = "observed by day, SYNTHETIC by night" if blended else "SYNTHETIC (AI-generated"
    assert said in head and said in title and said in look.axes[1].get_title()
    assert ("observed where the sun is up" in under) == blended
    assert under in [t.get_text() for ax in look.axes for t in ax.texts]
    plt.close(look)
    plt.close(frame)


def test_ir_on_the_fixed_scale_with_its_colour_bar(night_figure, night):
    ir_ax = night_figure.axes[0]
    (image,) = ir_ax.get_images()
    assert image.get_clim() == BT_RANGE == (180.0, 320.0)
    assert image.cmap.name == "gray_r", "inverted grey: cold cloud tops white"
    np.testing.assert_array_equal(image.get_array(), night.bands["C13"])
    (bar,) = [ax for ax in night_figure.axes if ax.get_xlabel().endswith("temperature (K)")]
    assert bar.get_xlim() == BT_RANGE
    assert bar.get_xlabel() == "C13 brightness temperature (K)"
    assert ir_band(["C05", "C14", "C13"]) == "C13" and ir_band(["C05", "C15"]) == "C15"


def test_coastlines_and_borders_lie_in_the_frame(night_figure, night):
    for ax in night_figure.axes[:2]:
        (coast,) = _by_gid(ax, "coastlines")
        (borders,) = _by_gid(ax, "borders")
        assert isinstance(coast, LineCollection)
        for lines in (coast.get_segments(), borders.get_segments()):
            assert len(lines) >= 5
            inside = [((p >= -0.5) & (p <= 499.5)).all(1).any() for p in lines]
            assert all(inside), "every piece drawn crosses the frame"
            near = np.concatenate(lines)
            assert ((near > -maplines.MARGIN_PX) & (near < 500 + maplines.MARGIN_PX)).all()
        points = np.concatenate(coast.get_segments())
        assert ((points >= -0.5) & (points <= 499.5)).all(1).sum() > 500
    # each coastline point is drawn where the scan's own geolocation (the inverse route,
    # pixel centres to lon/lat) puts its lon/lat: interpolated between pixel centres
    data = maplines._read(maplines.COASTLINES)
    frame = _scene(night).frame
    lon, lat = frame.lonlat
    col, row = frame.pixels(data.points[:, 0], data.points[:, 1])
    seen = (col > 0) & (col < 498) & (row > 0) & (row < 498)
    assert seen.sum() > 500
    c, r = np.floor(col[seen]).astype(int), np.floor(row[seen]).astype(int)
    fc, fr = col[seen] - c, row[seen] - r

    def at(values):
        top = values[r, c] * (1 - fc) + values[r, c + 1] * fc
        bottom = values[r + 1, c] * (1 - fc) + values[r + 1, c + 1] * fc
        return top * (1 - fr) + bottom * fr

    assert np.abs(at(lat) - data.points[seen, 1]).max() < 1e-4  # deg: ~10 m
    assert np.abs(at(lon) - data.points[seen, 0]).max() < 1e-4


def test_coastline_follows_the_coast_the_real_scan_sees(sample_dir):
    """At 0.86 um (C03) by day the sea is dark and the land bright: the drawn coastline sits
    on the scan's sharpest edges, and a line shifted by 5 pixels does not."""
    scan = _scan(DAY, ["C03"])
    frame = _scene(scan).frame
    gy, gx = np.gradient(scan.bands["C03"])
    edge = np.hypot(gx, gy)
    typical = np.nanmedian(edge)
    pixels = np.rint(np.concatenate(maplines.coastlines(frame))).astype(int)

    def ratio(shift: tuple[int, int]) -> float:
        p = pixels + shift
        ok = ((p >= 0) & (p < 500)).all(1)
        return float(np.nanmedian(edge[p[ok, 1], p[ok, 0]]) / typical)

    assert ratio((0, 0)) > 3.0
    assert all(ratio(s) < ratio((0, 0)) / 2 for s in [(5, 0), (-5, 0), (0, 5), (0, -5)])


def test_lat_lon_lines_are_where_the_scan_puts_them(night_figure, night):
    ax = night_figure.axes[0]
    lon, lat = fixed_grid_lonlat(night.x, night.y, night.projection)
    for gid, values, want in (
        ("latitude", lat, [35.0, 40.0, 45.0]),
        ("longitude", lon, [-125.0, -120.0, -115.0, -110.0]),
    ):
        (contours,) = _by_gid(ax, gid)
        assert list(contours.levels) == want
        for level, path in zip(contours.levels, contours.get_paths(), strict=True):
            v = path.vertices
            assert len(v) > 10
            c, r = np.rint(v[:, 0]).astype(int), np.rint(v[:, 1]).astype(int)
            assert np.abs(values[r, c] - level).max() < 0.05, f"{gid} {level}"
    left = lat[:, 0]
    want = {f"{v:g}°N" for v in (35, 40, 45) if left.min() < v < left.max()}
    assert {t.get_text() for t in ax.get_yticklabels()} == want and len(want) >= 2
    assert {"125°W", "120°W"} <= {t.get_text() for t in ax.get_xticklabels()}


def test_the_png_is_marked_as_a_quicklook(night, tmp_path):
    path = tmp_path / "q.png"
    rgb = np.stack([night.bands[b] for b in ("C02", "C03", "C01")])
    quicklook(path, _scene(night), night.bands["C13"], "C13", rgb, rgb)
    assert is_quicklook(path)
    from PIL import Image

    with Image.open(path) as im:
        assert im.size == (1500, 620)  # three panels


def test_scan_angles_of_lonlat_agree_with_proj():
    """``lonlat_to_fixed_grid`` (PUG 5.1.2.8.2) against PROJ's geos: the same scan angles
    wherever both see the point; invisible beyond the limb."""
    pyproj = pytest.importorskip("pyproj")
    proj = FixedGridProjection.nominal("G17")
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-180, 180, 20000), rng.uniform(-89, 89, 20000)
    x, y = lonlat_to_fixed_grid(lon, lat, proj)
    h = proj.perspective_point_height
    geos = pyproj.Proj(
        proj="geos",
        h=h,
        lon_0=-137.0,
        a=proj.semi_major_axis,
        b=proj.semi_minor_axis,
        sweep="x",
    )
    gx, gy = geos(lon, lat, errcheck=False)
    theirs = np.isfinite(gx) & (np.abs(gx) < 1e20)
    both = np.isfinite(x) & theirs
    assert both.sum() > 5000
    assert np.abs(x[both] - gx[both] / h).max() < 1e-12
    assert np.abs(y[both] - gy[both] / h).max() < 1e-12
    # far from the limb (81.3 deg of arc from the sub-point) the two agree on what is seen
    arc = np.degrees(np.arccos(np.cos(np.radians(lat)) * np.cos(np.radians(lon + 137.0))))
    clear = np.abs(arc - 81.4) > 0.5
    np.testing.assert_array_equal(np.isfinite(x)[clear], theirs[clear])
    assert np.isnan(x[arc > 82]).all()


def test_full_disk_lines_do_not_cross_the_disk():
    """GOES-West's full disk sees the date line: no line jumps across the picture where
    longitudes wrap, nor runs along the seam where GSHHS cuts Eurasia."""
    step = 56e-6 * 8
    x = FULL_DISK_EDGE + step / 2 + np.arange(int(2 * -FULL_DISK_EDGE / step)) * step
    frame = maplines.Frame(x, -x, FixedGridProjection.nominal("G17"))
    for lines in (maplines.coastlines(frame), maplines.borders(frame)):
        assert len(lines) > 100
        jumps = np.concatenate([np.hypot(*np.diff(p, axis=0).T) for p in lines])
        assert jumps.max() < 40, "a line across the disk"
    lon, lat, lon_levels, lat_levels = maplines.graticule(frame)
    assert -180.0 in lon_levels and maplines.lon_label(-210.0) == "150°E"
    assert np.nanmax(np.abs(np.diff(lon, axis=1))) < 30, "longitude wraps at the date line"
    assert list(lat_levels) == [-60.0, -30.0, 0.0, 30.0, 60.0]
