"""The day-night blend (``predict --blend``): the observed visible where the sun is high, the
model's synthetic visible where it is night, and a smooth mix across a band of solar zenith
between them, so that a 24-hour loop has no seam at the terminator.

Decisions, and why:

- The blend is made in the model's own target space. The real R, G, B come from the scan's
  visible bands through the very transform the training targets went through
  (``Transform.target_reflectance``: the composite, divided by the floored cos(sza) if the
  model is sun-normalised, clipped to ``reflectance_max``). Day and night pixels then mean the
  same quantity, and a sun-normalised model's night is not joined to a darkening dusk.
- The weight of the synthetic (``synthetic_share``) is smoothstep of the solar zenith across
  the band [lo, hi]: exactly 0 at or below lo, exactly 1 at or above hi, monotonic and with a
  continuous slope between, so that neither edge of the band draws a line of its own. The
  default 80-90 deg starts where training stops taking targets (``target_sza_max`` 80) and
  ends at the terminator, where the observation has nothing left to show.
- Where the observation is missing (a NaN pixel, a band file absent, no solar zenith) the
  share is 1: the synthetic is used. Each blended pixel needs only what its share uses: the
  observation where the share is 0 (even where the IR is invalid), the synthetic where it is
  1, both between (NaN if either is missing).

One pure module: the weight and the blend, and the dataset change that both prediction paths
(one archive scan, a store range) apply to what ``cf`` made of the synthetic.
"""

from __future__ import annotations

import argparse

import numpy as np
import xarray as xr

from ..errors import UsageError

SHARE = "synthetic_share"
DEFAULT_BAND = (80.0, 90.0)
SHARE_ATTRS = {
    "long_name": "share of the synthetic (model) estimate in R, G and B",
    "units": "1",
    "comment": (
        "from 0 to 1; 0: R, G, B are the observed visible (in the model's reflectance "
        "convention); 1: they are the model's synthetic estimate from infrared, not an "
        "observation; between: share * synthetic + (1 - share) * observed, a smoothstep of "
        "the solar zenith across the blend band; 1 wherever the observation is missing"
    ),
}


def weight(sza: np.ndarray, band: tuple[float, float] = DEFAULT_BAND) -> np.ndarray:
    """The synthetic's share by solar zenith (deg): smoothstep over ``band`` = (lo, hi),
    exactly 0 at or below lo and 1 at or above hi; 1 where the zenith is unknown (NaN)."""
    lo, hi = band
    t = np.clip((np.asarray(sza, np.float32) - np.float32(lo)) / np.float32(hi - lo), 0, 1)
    return np.nan_to_num(t * t * (3 - 2 * t), nan=1.0).astype(np.float32)


def blend(
    synthetic: np.ndarray,
    observed: np.ndarray | None,
    sza: np.ndarray,
    band: tuple[float, float] = DEFAULT_BAND,
) -> tuple[np.ndarray, np.ndarray]:
    """(R, G, B) along axis -3 of the synthetic and the observed (both in the model's target
    convention; ``None``: no observation) and the zenith (deg, without that axis) ->
    the blended R, G, B and the synthetic share of each pixel."""
    if observed is None:
        observed = np.full_like(synthetic, np.nan)
    share = np.where(np.isfinite(observed).all(-3), weight(sza, band), np.float32(1))
    s = share[..., None, :, :]
    mixed = s * synthetic + (1 - s) * observed
    out = np.where(s == 0, observed, np.where(s == 1, synthetic, mixed))
    return out.astype(np.float32), share.astype(np.float32)


def blend_dataset(ds: xr.Dataset, observed: np.ndarray | None, band: tuple[float, float]):
    """``cf``'s dataset of the synthetic (one scan or a batch of a range) made the blend: R,
    G, B replaced by the blend and named for it, ``synthetic_share`` added beside them."""
    dims = ds["R"].dims
    synthetic = np.stack([ds[c].values for c in "RGB"], axis=-3)
    rgb, share = blend(synthetic, observed, ds["solar_zenith_angle"].values, band)
    lo, hi = (f"{v:g}" for v in band)
    out = ds.copy()
    for i, c in enumerate("RGB"):
        attrs = dict(ds[c].attrs)
        what = attrs["long_name"].removeprefix("synthetic ")
        attrs.update(
            long_name=f"{what}, observed by day and synthetic by night",
            comment=f"observed where {SHARE} is 0 (solar zenith <= {lo} deg), synthetic where "
            f"it is 1 (>= {hi} deg, or no observation), mixed between; the synthetic part: "
            + attrs["comment"],
            ancillary_variables=SHARE,
        )
        out[c] = xr.Variable(dims, rgb[..., i, :, :], attrs)
    share_attrs = {"grid_mapping": ds["R"].attrs["grid_mapping"], **SHARE_ATTRS}
    out[SHARE] = xr.Variable(dims, share, share_attrs)
    out.attrs.update(
        title="Visible imagery: observed by day, synthetic from infrared by night "
        "(partly AI-generated)",
        day_night_blend=f"solar zenith {lo}-{hi} deg, smoothstep; see {SHARE}",
        source=ds.attrs["source"].replace("; not an observation", "")
        + f"; where {SHARE} is below 1, mixed with the observed visible bands",
    )
    return out


# --- the flags ------------------------------------------------------------------------------


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--blend",
        action="store_true",
        help="observed visible where the sun is high, synthetic at night, mixed across "
        "--blend-band (a synthetic_share variable says how much of each pixel is synthetic)",
    )
    p.add_argument(
        "--blend-band",
        metavar="LO,HI",
        help="with --blend: the solar zenith band (deg) of the mix (default "
        f"{DEFAULT_BAND[0]:g},{DEFAULT_BAND[1]:g})",
    )


def band_of(args: argparse.Namespace) -> tuple[float, float] | None:
    """The blend band the flags ask for (None: no blend), or one line saying what is wrong."""
    if args.blend_band is not None and not args.blend:
        raise UsageError(f"--blend-band {args.blend_band}: it sets the band of --blend; add it")
    if not args.blend:
        return None
    if args.blend_band is None:
        return DEFAULT_BAND
    try:
        lo, hi = (float(v) for v in args.blend_band.split(","))
    except ValueError:
        raise UsageError(
            f"--blend-band {args.blend_band!r}: expected LO,HI in degrees, e.g. 80,90"
        ) from None
    if not (0 <= lo < hi <= 180):
        raise UsageError(
            f"--blend-band {args.blend_band}: needs 0 <= LO < HI <= 180 (solar zenith, deg)"
        )
    return lo, hi
