"""The header of a NOAA L1b file (dimensions, variables, packing, attributes) as plain data.

``extract_header`` reads one from a real file; ``l1b_header(band)`` returns the one shipped
with the package (``l1b_header.json``, taken from NOAA's GOES-17 files by ``build_template``),
which the synthetic archive writes back byte for byte. Per-scan values (times, sector position,
statistics) are filled in by the writer.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path

import netCDF4
import numpy as np

from .names import parse_name

TEMPLATE_FILE = Path(__file__).with_name("l1b_header.json")

# The DQF's per-scan shares, by flag value 0..4 (the ``percent_*_qf`` attributes of ``DQF``).
DQF_CATEGORIES = tuple(
    f"percent_{k}_qf"
    for k in (
        "good_pixel",
        "conditionally_usable_pixel",
        "out_of_range_pixel",
        "no_value_pixel",
        "focal_plane_temperature_threshold_exceeded",
    )
)
# Global attributes and variables whose values belong to one scan, not to the band.
SCAN_GLOBALS = ("dataset_name", "date_created", "time_coverage_start", "time_coverage_end", "id")
SCAN_VARIABLES = (
    "t",
    "time_bounds",
    "x_image",
    "y_image",
    "x_image_bounds",
    "y_image_bounds",
    "kappa0",
    "earth_sun_distance_anomaly_in_AU",
    "valid_pixel_count",
    "missing_pixel_count",
    "saturated_pixel_count",
    "undersaturated_pixel_count",
    "focal_plane_temperature_threshold_exceeded_count",
    "min_radiance_value_of_valid_pixels",
    "max_radiance_value_of_valid_pixels",
    "mean_radiance_value_of_valid_pixels",
    "std_dev_radiance_value_of_valid_pixels",
)
SCAN_ATTRS = {
    "x": ("add_offset",),
    "y": ("add_offset",),
    "DQF": DQF_CATEGORIES,
    "geospatial_lat_lon_extent": (
        "geospatial_westbound_longitude",
        "geospatial_northbound_latitude",
        "geospatial_eastbound_longitude",
        "geospatial_southbound_latitude",
        "geospatial_lat_center",
        "geospatial_lon_center",
    ),
    "algorithm_dynamic_input_data_container": ("input_ABI_L0_data",),
}
_SMALL = 64  # variables up to this many values are kept with the header


def encode(value):
    """An attribute or small variable value -> JSON, keeping its numpy dtype."""
    if isinstance(value, str):
        return value
    arr = np.asarray(value)
    if np.ma.isMaskedArray(value):
        arr = np.ma.getdata(value)
    return {"dtype": arr.dtype.str, "shape": list(arr.shape), "data": arr.ravel().tolist()}


def decode(value):
    """Inverse of encode: numpy scalars for shape (), arrays otherwise, str (and None) as is."""
    if value is None or isinstance(value, str):
        return value
    arr = np.array(value["data"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    return arr[()] if arr.shape == () else arr


def extract_header(path: str | Path) -> dict:
    """Everything about an L1b file but its large arrays, as JSON-able data."""
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_maskandscale(False)
        variables = {}
        for name, var in ds.variables.items():
            filters = var.filters() or {}
            chunks = var.chunking()
            variables[name] = {
                "dtype": var.dtype.str,
                "dims": list(var.dimensions),
                "chunks": None if chunks == "contiguous" else list(chunks),
                "zlib": bool(filters.get("zlib")),
                "complevel": int(filters.get("complevel", 0)),
                "shuffle": bool(filters.get("shuffle")),
                "attrs": {k: encode(var.getncattr(k)) for k in var.ncattrs()},
                "value": encode(var[...]) if var.size <= _SMALL else None,
            }
        return {
            "dims": {k: len(d) for k, d in ds.dimensions.items()},
            "globals": {k: encode(ds.getncattr(k)) for k in ds.ncattrs()},
            "variables": variables,
        }


def _is_branch(value) -> bool:
    """A nested dict of the header, as opposed to an encoded value (dtype/shape/data)."""
    return isinstance(value, dict) and set(value) != {"dtype", "shape", "data"}


def _same(a, b) -> bool:
    """Equality that holds for NaN fill values too."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _diff(base: dict, other: dict) -> dict:
    """The entries of ``other`` that differ from ``base`` (recursively)."""
    out = {}
    for key, value in other.items():
        if _is_branch(value) and _is_branch(base.get(key)):
            sub = _diff(base[key], value)
            if sub:
                out[key] = sub
        elif key not in base or not _same(base[key], value):
            out[key] = value
    return out


def _merge(base: dict, diff: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in diff.items():
        if _is_branch(value) and _is_branch(out.get(key)):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def build_template(headers: dict[int, dict], common_band: int = 13) -> dict:
    """Compress one header per band into a common header plus per-band differences."""
    common = headers[common_band]
    return {"common": common, "bands": {str(b): _diff(common, h) for b, h in headers.items()}}


@lru_cache(maxsize=1)
def _template() -> dict:
    return json.loads(TEMPLATE_FILE.read_text())


@lru_cache(maxsize=16)
def _band_header(band: int) -> dict:
    tpl = _template()
    if str(band) not in tpl["bands"]:
        raise ValueError(f"no L1b header template for band {band}")
    return _merge(tpl["common"], tpl["bands"][str(band)])


def l1b_header(band: int) -> dict:
    """The NOAA header of one band (a fresh copy, safe to modify)."""
    return copy.deepcopy(_band_header(band))


@lru_cache(maxsize=16)
def band_constants(band: int) -> dict[str, float]:
    """Calibration constants of the template's band (planck_*, esun, packing of Rad)."""
    variables = _band_header(band)["variables"]
    out = {}
    for name in ("planck_fk1", "planck_fk2", "planck_bc1", "planck_bc2", "esun"):
        value = float(decode(variables[name]["value"]))
        out[name] = value if value != -999.0 else float("nan")
    rad = variables["Rad"]["attrs"]
    out["scale_factor"] = float(decode(rad["scale_factor"]))
    out["add_offset"] = float(decode(rad["add_offset"]))
    out["fill"] = int(np.asarray(decode(rad["_FillValue"])).astype(np.uint16))
    out["max_count"] = int(decode(rad["valid_range"])[1])
    return out


def strip_scan(header: dict) -> dict:
    """The header without its per-scan values: what is the same for every scan of a band."""
    out = copy.deepcopy(header)
    variables = out.get("variables", {})
    globals_ = out.get("globals", {})
    for key in SCAN_GLOBALS:
        if key in globals_:
            globals_[key] = None  # kept as a placeholder: NOAA's attribute order matters
    for name in SCAN_VARIABLES:
        if name in variables:
            variables[name]["value"] = None
    for name, keys in SCAN_ATTRS.items():
        attrs = variables.get(name, {}).get("attrs", {})
        for key in keys:
            if key in attrs:
                attrs[key] = None
    return out


def headers_from_samples(sample_dir: str | Path) -> dict[int, dict]:
    """One header per band from NOAA's GOES-17 files.

    Bands come from the original (not re-saved) day scan; C02, missing there, is built from the
    C01 header plus what differs between C01 and C02 of the re-saved night scan (both re-saved
    alike, so their difference is band-specific), with x/y packed at 0.5 km (14 urad).
    """
    files = sorted(Path(sample_dir).glob("OR_ABI-L1b-RadM1-M6C*_G17_s20193002000275_*.nc"))
    headers = {parse_name(f).band: strip_scan(extract_header(f)) for f in files}
    night = {parse_name(f).band: f for f in Path(sample_dir).glob("*_s20193351027275_*.nc")}
    band_diff = strip_scan(_diff(extract_header(night[1]), extract_header(night[2])))
    band_diff["variables"].pop("t", None)
    band_diff["variables"].pop("time_bounds", None)
    c02 = _merge(headers[1], band_diff)
    for axis in ("x", "y"):
        attrs = c02["variables"][axis]["attrs"]
        attrs["scale_factor"] = encode(np.float32(decode(attrs["scale_factor"]) / 2))
    headers[2] = strip_scan(c02)
    return dict(sorted(headers.items()))


def main(argv: list[str] | None = None) -> None:
    """``python -m hpc_vqvae.abi.template SAMPLE_DIR`` rewrites the shipped l1b_header.json."""
    import sys

    sample_dir = (argv or sys.argv[1:])[0]
    template = build_template(headers_from_samples(sample_dir))
    TEMPLATE_FILE.write_text(json.dumps(template, separators=(",", ":")) + "\n")
    print(f"wrote {TEMPLATE_FILE} ({TEMPLATE_FILE.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
