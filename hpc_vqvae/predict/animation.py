"""``predict --store --animation night.mp4|night.gif``: the predicted range as a loop, frame by
frame the quicklook's synthetic panel (map, title, UTC time stamp).

Each rank draws the frames of the shards it owns (as it predicted them) from the range's
partial store, one at a time, as numbered PNGs in a hidden folder beside the animation; rank
0 then encodes them in time order, reading one frame at a time. Memory stays bounded at any
number of frames and the drawing, the slow part, is shared by the ranks. mp4 (H.264) goes
through imageio's ffmpeg plugin with the ffmpeg binary that imageio-ffmpeg ships (compute
nodes need no system ffmpeg); gif through imageio's streaming GIF writer (Pillow), whose
newer plugin would hold every frame until the end.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import zarr

from ..errors import UsageError
from ..store.layout import FIXED_GRID_X, FIXED_GRID_Y
from .maplines import Frame
from .quicklook import DPI, Scene, draw_map, heading, note, rgb_image, time_stamp, visible_label
from .shards import my_shards
from .sources import StoreRange

SUFFIXES = (".mp4", ".gif")
SOFTWARE = "hpc-vqvae animation"  # the file's own mark (mp4 comment, gif comment block)
FRAME_PX = (640, 704)  # width, height: multiples of 16, as H.264's macroblocks want
FPS = 6  # frames per second of a long range
MIN_LOOP_S = 2.0  # a short range plays slower, so that its loop can be read (3 scans: 1.5/s)
MARK = ".hpc-vqvae-frames"  # the frames folder's mark: the only folder removed as ours


def frame_rate(n_frames: int) -> float:
    """Frames per second: FPS, or fewer for a range too short to last MIN_LOOP_S at FPS."""
    return min(float(FPS), max(n_frames, 1) / MIN_LOOP_S)


def check_path(path: Path) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"--animation {path}: an animation is written as *.mp4 or *.gif")


def is_animation(path: Path) -> bool:
    """An animation this package wrote, by the comment it gave the file."""
    try:
        if path.suffix.lower() == ".gif":
            from PIL import Image

            with Image.open(path) as im:
                return im.info.get("comment") == SOFTWARE.encode()
        return f"comment={SOFTWARE}" in _ffmpeg_metadata(path)
    except Exception:  # noqa: BLE001 (not a file we can read, so not ours)
        return False


def _ffmpeg_metadata(path: Path) -> str:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path)]
    proc = subprocess.run([*cmd, "-f", "ffmetadata", "-"], capture_output=True, timeout=60)
    return proc.stdout.decode(errors="replace")


def frames_dir(animation: Path) -> Path:
    return animation.with_name(f".{animation.name}.frames")


def frame_path(folder: Path, position: int) -> Path:
    return folder / f"frame_{position:07d}.png"


def start_frames(folder: Path) -> None:
    """Rank 0, before any rank draws: an empty, marked frames folder (an interrupted run's
    frames are dropped: the store they came from is predicted again or resumed)."""
    remove_frames(folder)
    folder.mkdir(parents=True)
    (folder / MARK).touch()


def remove_frames(folder: Path) -> None:
    if not folder.exists():
        return
    if not (folder / MARK).exists():
        raise UsageError(f"{folder}: in the way of the animation's frames, and not ours")
    shutil.rmtree(folder)


def frame_figure(scene: Scene, rgb: np.ndarray, blended: bool = False):
    """One frame as a Figure: the visible panel with its map, the satellite and sector, the
    scan time large, and what the imagery is (``blended``: the day-night blend). Every frame
    the same size in pixels (no tight box)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(FRAME_PX[0] / DPI, FRAME_PX[1] / DPI), dpi=DPI)
    ax = fig.add_axes((0.07, 0.065, 0.9, 0.815))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.imshow(rgb_image(rgb))
    draw_map(ax, scene.frame)
    head = f"{heading(scene)}: visible, {visible_label(blended)}"
    fig.text(0.5, 0.965, head, ha="center", va="center", fontsize=11, fontweight="bold")
    fig.text(0.5, 0.925, time_stamp(scene.time), ha="center", va="center", fontsize=15)
    fig.text(0.5, 0.008, note(blended), ha="center", va="bottom", fontsize=8)
    return fig


def draw_frame(path: Path, scene: Scene, rgb: np.ndarray, blended: bool = False) -> None:
    import matplotlib.pyplot as plt

    fig = frame_figure(scene, rgb, blended)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def draw_shards(
    partial: Path,
    scans: StoreRange,
    batch_size: int,
    folder: Path,
    rank: int,
    world: int,
    blended: bool = False,
) -> int:
    """This rank's frames: the scans of its round-robin shards (those it predicts, or did
    before a resume), read back from the range's partial store one at a time (``blended``:
    the store holds the day-night blend, and the frames say so)."""
    group = zarr.open_group(partial, mode="r", use_consolidated=False)
    proj = _projection(group)
    sector = str(group.attrs.get("sector", ""))
    n_shards = -(-len(scans.index) // batch_size)
    drawn = 0
    for shard in my_shards(np.zeros(n_shards, bool), rank, world):
        part = range(shard * batch_size, min((shard + 1) * batch_size, len(scans.index)))
        satellites = scans.store.scan_satellites(scans.index[part.start : part.stop])
        for k, satellite in zip(part, satellites, strict=True):
            rgb = np.stack([group[c][k] for c in "RGB"])
            frame = Frame(group[FIXED_GRID_X][k], group[FIXED_GRID_Y][k], proj)
            scene = Scene(satellite, sector, scans.time[k], frame)
            draw_frame(frame_path(folder, k), scene, rgb, blended)
            drawn += 1
    return drawn


def _projection(group: zarr.Group):
    from ..abi.projection import FixedGridProjection
    from ..store.layout import GRID_MAPPING

    return FixedGridProjection.from_attrs(dict(group[GRID_MAPPING].attrs), GRID_MAPPING)


def encoder(folder: Path, n_frames: int, suffix: str):
    """A ``write(path)`` that encodes the frames 0..n-1 of ``folder`` in order, one frame in
    memory at a time (for ``writers.replace_with``: written beside, renamed into place)."""

    def write(path: Path) -> None:
        # imageio picks its writer by the file's suffix: encode to a name that ends in it
        named = path.with_name(path.name + suffix)
        try:
            _encode(folder, n_frames, named, suffix)
            named.replace(path)
        finally:
            named.unlink(missing_ok=True)

    return write


def _encode(folder: Path, n_frames: int, path: Path, suffix: str) -> None:
    import imageio.v2 as imageio

    if suffix == ".gif":
        # GIF-PIL: imageio's streaming GIF writer; the comment goes in after
        writer = imageio.get_writer(
            path, format="GIF-PIL", mode="I", duration=1.0 / frame_rate(n_frames), loop=0
        )
    else:
        writer = imageio.get_writer(
            path,
            format="FFMPEG",
            mode="I",
            fps=frame_rate(n_frames),
            codec="libx264",
            quality=8,
            pixelformat="yuv420p",  # what every player decodes
            macro_block_size=16,
            ffmpeg_params=["-metadata", f"comment={SOFTWARE}"],
            ffmpeg_log_level="error",
        )
    with writer:
        for k in range(n_frames):
            image = imageio.imread(frame_path(folder, k))
            writer.append_data(np.asarray(image)[..., :3])
    if suffix == ".gif":
        _gif_comment(path)


def _gif_comment(path: Path) -> None:
    """Insert a GIF comment extension block (0x21 0xFE) naming this package just after the
    header and global colour table, so that ``--overwrite`` knows the file as ours. The
    rest of the file is copied through unchanged, in blocks."""
    head = path.read_bytes()[:13]
    packed = head[10]
    table = 3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0
    text = SOFTWARE.encode()
    block = b"\x21\xfe" + bytes([len(text)]) + text + b"\x00"
    tmp = path.with_name(path.name + ".c")
    with path.open("rb") as src, tmp.open("wb") as dst:
        dst.write(src.read(13 + table))
        dst.write(block)
        shutil.copyfileobj(src, dst, 1 << 20)
    tmp.replace(path)


def describe(path: Path, n_frames: int) -> str:
    size = f"{FRAME_PX[0]}x{FRAME_PX[1]}"
    return f"animation {path} ({n_frames} frame(s), {size}, {frame_rate(n_frames):g} frames/s)"
