"""One dataset sample as a pure function of (config, source, index): the same bytes whatever worker renders it."""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .codec import encode
from .config import RenderConfig
from .errors import BadImage, UserError
from .motion import TRANSFORMS, Motion, sample_motion
from .render import mixup, render_rgbx
from .sources.base import ImageSource, SourceImage

KEY_DIGITS = 9


def sample_key(index: int) -> str:
    return f"{index:0{KEY_DIGITS}d}"


@dataclass
class ImageCache:
    """Per-worker memory of decoded images (reused as Mixup partners) and of inputs found unusable."""

    source: ImageSource
    on_bad_image: str = "skip"
    capacity: int = 64
    images: OrderedDict[int, SourceImage] = field(default_factory=OrderedDict)
    bad: dict[int, str] = field(default_factory=dict)  # index -> "source_id: reason"

    def load_usable(self, index: int) -> SourceImage:
        """Image `index`, or the next usable one after it (wrapping): deterministic whatever was loaded before."""
        n = len(self.source)
        for step in range(n):
            i = (index + step) % n
            if i not in self.bad:
                try:
                    return self._load(i)
                except BadImage as e:
                    if self.on_bad_image == "fail":
                        raise UserError(f"bad input image {e}; fix or remove it, or pass --on-bad-image skip") from None
                    self.bad[i] = str(e)
        raise UserError(f"no usable image in the source ({n} tried); check the --images input")

    def _load(self, i: int) -> SourceImage:
        if i in self.images:
            self.images.move_to_end(i)
            return self.images[i]
        image = self.source.load(i)
        self.images[i] = image
        if len(self.images) > self.capacity:
            self.images.popitem(last=False)
        return image


@dataclass(frozen=True)
class Sample:
    key: str
    members: dict[str, bytes]  # WebDataset extension -> bytes
    row: dict[str, Any]  # one row of index.parquet


def render_sample(cfg: RenderConfig, cache: ImageCache, index: int) -> tuple[np.ndarray, dict[str, Any]]:
    """(T, S, S, 4) uint8 RGBX clip and its JSON metadata. Every random draw happens before any image is read."""
    rng = np.random.default_rng([cfg.seed, index])
    n = len(cache.source)
    m = cfg.motion
    motion = sample_motion(rng, m.transforms, m.ranges)
    cut_partner = int(rng.integers(n))
    mix = (sample_motion(rng, m.transforms, m.ranges), int(rng.integers(n)), int(rng.integers(n)),
           float(rng.beta(m.mixup_alpha, m.mixup_alpha))) if m.mixup else None

    main = cache.load_usable(index % n)
    clip = _clip(cfg, cache, main, motion, cut_partner)
    meta: dict[str, Any] = {"key": sample_key(index), "index": index, "seed": cfg.seed, **_image_meta(main),
                            **motion.to_json(), "frames": cfg.frames, "size": cfg.size, "fps": cfg.fps,
                            "format": cfg.codec.format, "mixup": None}
    if mix is not None:
        motion_b, image_b, cut_b, lam = mix
        other = cache.load_usable(image_b)
        clip = mixup(clip, _clip(cfg, cache, other, motion_b, cut_b), lam)
        meta["mixup"] = {"lambda": round(lam, 6), **_image_meta(other), **motion_b.to_json()}
    return clip, meta


def _clip(cfg: RenderConfig, cache: ImageCache, image: SourceImage, motion: Motion, cut_partner: int) -> np.ndarray:
    partner = cache.load_usable(cut_partner).rgb if TRANSFORMS[motion.transform].kind == "cutmix" else None
    return render_rgbx(image.rgb, motion, frames=cfg.frames, size=cfg.size, border=cfg.motion.border,
                       max_fit_zoom=cfg.motion.max_fit_zoom, partner=partner)


def _image_meta(image: SourceImage) -> dict[str, Any]:
    return {"source_id": image.source_id, "content_hash": image.content_hash, "label": image.label}


def make_sample(cfg: RenderConfig, cache: ImageCache, index: int) -> Sample:
    """Render, encode and describe sample `index`: members .mp4 (or .fNN.jpg), .json, and .cls when labelled."""
    clip, meta = render_sample(cfg, cache, index)
    members = encode(clip, cfg.fps, cfg.codec)
    members["json"] = json.dumps(meta, sort_keys=True).encode()
    if meta["label"] is not None:
        members["cls"] = str(meta["label"]).encode()
    row = {"key": meta["key"], "source_id": meta["source_id"], "content_hash": meta["content_hash"],
           "transform": meta["transform"], "params": json.dumps(meta["params"], sort_keys=True),
           "label": meta["label"], "mixup_source_id": (meta["mixup"] or {}).get("source_id"),
           "mixup_transform": (meta["mixup"] or {}).get("transform"),
           "mixup_lambda": (meta["mixup"] or {}).get("lambda")}
    return Sample(meta["key"], members, row)
