"""Let a person see the motion: a PNG contact sheet (rows = clips, columns = frames) and an animated GIF."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .codec import decode_members
from .errors import UserError
from .manifest import open_dataset
from .recipe import decode_recipe, is_recipe, render_recipe
from .shards import iter_tar_samples


def sample_frames(members: dict[str, bytes]) -> np.ndarray:
    """(T, H, W, 3) uint8 of one sample: decoded frames, or a recipe rendered on the CPU."""
    return render_recipe(decode_recipe(members)) if is_recipe(members) else decode_members(members)


def first_clips(folder: str | Path, count: int) -> list[tuple[str, np.ndarray]]:
    """The first `count` samples of the dataset as (T, H, W, 3)."""
    store, manifest = open_dataset(folder)
    clips: list[tuple[str, np.ndarray]] = []
    for shard in manifest["shards"]:
        with store.open(shard["path"]) as f:
            for key, members in iter_tar_samples(f, store.display(shard["path"])):
                clips.append((key, sample_frames(members)))
                if len(clips) == count:
                    return clips
    if not clips:
        raise UserError(f"{folder}: the dataset has no samples to preview")
    return clips


def contact_sheet(clips: list[np.ndarray], columns: int = 8, gap: int = 4) -> np.ndarray:
    """Rows = clips, `columns` frames spread evenly over each clip, white gaps between tiles."""
    t, h, w, _ = clips[0].shape
    picks = np.linspace(0, t - 1, min(columns, t)).round().astype(int)
    sheet = np.full((len(clips) * (h + gap) - gap, len(picks) * (w + gap) - gap, 3), 255, np.uint8)
    for r, clip in enumerate(clips):
        for c, f in enumerate(picks):
            sheet[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = clip[f]
    return sheet


def animation_frames(clips: list[np.ndarray], gap: int = 4) -> list[np.ndarray]:
    """One GIF frame per clip frame: clips side by side in a near-square grid."""
    n = len(clips)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    t, h, w, _ = clips[0].shape
    frames = []
    for i in range(t):
        canvas = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), 255, np.uint8)
        for k, clip in enumerate(clips):
            r, c = divmod(k, cols)
            canvas[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = clip[min(i, len(clip) - 1)]
        frames.append(canvas)
    return frames


def write_preview(folder: str | Path, out: Path, count: int = 6, fps: int | None = None) -> tuple[Path, Path]:
    """Write `out` (PNG contact sheet) and the same name with .gif (animation). Returns both paths."""
    clips = [c for _, c in first_clips(folder, count)]
    png, gif = out.with_suffix(".png"), out.with_suffix(".gif")
    fps = fps or int(open_dataset(folder)[1]["config"].get("fps", 8))
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(contact_sheet(clips)).save(png)
        images = [Image.fromarray(f) for f in animation_frames(clips)]
        images[0].save(gif, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    except OSError as e:
        raise UserError(f"{out}: cannot write the preview ({e.strerror}); choose a writable --out") from None
    return png, gif
