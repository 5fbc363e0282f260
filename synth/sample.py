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
from .draw import SampleDraw, draw_sample
from .motion import TRANSFORMS, Motion
from .recipe import RECIPE_MINIFY, RecipeClip, RecipeLayer, encode_recipe
from .render import partner_still, reduce_source, render_layers
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
        first = next(iter(self.bad.values()), "")
        raise UserError(f"{self.source.name}: no usable image ({n} tried, e.g. {first}); check the --images input")

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


@dataclass(frozen=True)
class LoadedLayer:
    """A drawn layer with its pixels: the source image and, when needed, its cutmix partner's RGBX still."""

    image: SourceImage
    motion: Motion
    still: np.ndarray | None  # (size, size, 4) uint8, see synth.render.partner_still


def load_layers(cfg: RenderConfig, cache: ImageCache, draw: SampleDraw, *, stills: bool = False) -> list[LoadedLayer]:
    """The images of a draw. A cutmix partner is loaded for cutmix layers only, or for every layer when `stills`
    (a recipe that fresh motion may turn into cutmix): loading decides which bad inputs a render meets."""
    out = []
    for layer in draw.layers:
        image = cache.load_usable(layer.image)
        still = None
        if stills or TRANSFORMS[layer.motion.transform].kind == "cutmix":
            still = partner_still(cache.load_usable(layer.cut_partner).rgb, cfg.size, border=cfg.motion.border,
                                  max_fit_zoom=cfg.motion.max_fit_zoom)
        out.append(LoadedLayer(image, layer.motion, still))
    return out


def render_sample(cfg: RenderConfig, cache: ImageCache, index: int) -> tuple[np.ndarray, dict[str, Any]]:
    """(T, S, S, 4) uint8 RGBX clip and its JSON metadata. Every random draw happens before any image is read."""
    draw = draw_sample(cfg, len(cache.source), index)
    layers = load_layers(cfg, cache, draw)
    clip = render_layers([(layer.image.rgb, layer.motion, layer.still) for layer in layers], draw.lam,
                         frames=cfg.frames, size=cfg.size, border=cfg.motion.border,
                         max_fit_zoom=cfg.motion.max_fit_zoom)
    return clip, sample_meta(cfg, index, layers, draw.lam)


def recipe_sample(cfg: RenderConfig, cache: ImageCache, index: int, epoch: int | None = None, *,
                  stills: bool = False) -> tuple[RecipeClip, dict[str, Any]]:
    """Sample `index` as a recipe and its exact metadata; `epoch` draws fresh motion (synth.draw.draw_sample).

    Sources are stored at what the renderer needs, OVERSAMPLE * size on the shorter side (RECIPE_MINIFY), where
    the video renderer warps sources up to MAX_MINIFY times that as they are: recipes of such sources render
    within about a grey level of the video frames, not exactly (synth/recipe.py), and their images cost the
    loader half the decoding."""
    draw = draw_sample(cfg, len(cache.source), index, epoch)
    layers = load_layers(cfg, cache, draw, stills=stills)
    clip = RecipeClip(tuple(RecipeLayer(reduce_source(layer.image.rgb, cfg.size, max_minify=RECIPE_MINIFY),
                                        layer.motion,
                                        None if layer.still is None else np.ascontiguousarray(layer.still[..., :3]))
                            for layer in layers),
                      draw.lam, cfg.frames, cfg.size, cfg.seed, index, cfg.motion, layers[0].image.label)
    return clip, sample_meta(cfg, index, layers, draw.lam, digits=None)


def sample_meta(cfg: RenderConfig, index: int, layers: list[LoadedLayer], lam: float, *,
                digits: int | None = 6) -> dict[str, Any]:
    """The sample's json: sources, transforms and parameters (rounded to `digits`; None: exact), Mixup, shape."""
    main = layers[0]
    meta: dict[str, Any] = {"key": sample_key(index), "index": index, "seed": cfg.seed, **_image_meta(main.image),
                            **main.motion.to_json(digits), "frames": cfg.frames, "size": cfg.size, "fps": cfg.fps,
                            "format": cfg.codec.format, "mixup": None}
    if len(layers) == 2:
        other = layers[1]
        meta["mixup"] = {"lambda": lam if digits is None else round(lam, digits), **_image_meta(other.image),
                         **other.motion.to_json(digits)}
    return meta


def _image_meta(image: SourceImage) -> dict[str, Any]:
    return {"source_id": image.source_id, "content_hash": image.content_hash, "label": image.label}


def make_sample(cfg: RenderConfig, cache: ImageCache, index: int) -> Sample:
    """Render, encode and describe sample `index`: members .mp4 (or .fNN.jpg, or a recipe's images), .json, and
    .cls when labelled."""
    if cfg.codec.format == "recipe":
        recipe, meta = recipe_sample(cfg, cache, index, stills="cutmix" in cfg.motion.transforms)
        members, described = encode_recipe(recipe, cfg.codec.jpeg_quality)
        meta.update(described)
    else:
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
