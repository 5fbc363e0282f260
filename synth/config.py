"""Render configuration: frozen dataclasses with the paper's defaults, loaded from YAML, overridden by the CLI.

One source of truth for every default. The resolved config is saved beside every output (config.json while a run is
in progress, inside manifest.json at the end); its hash decides whether an output folder can be resumed.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError

# PMG paper (Table/Sec. 4): zoom + affine is the best pair, combined with frame-wise Mixup of two clips.
DEFAULT_TRANSFORMS = {"zoom": 1.0, "affine": 1.0}


@dataclass(frozen=True)
class MotionConfig:
    """Which pseudo-motion transforms to draw from, and how strongly.

    transforms: name -> sampling weight; one (transform, intensity) is drawn per clip.
    ranges: per-transform overrides of the per-frame intensity ranges, e.g. {"zoom": {"rate": [1.01, 1.03]}}.
    mixup: frame-wise Mixup of two pseudo-motion clips, lambda ~ Beta(mixup_alpha, mixup_alpha), one per clip.
    border: how pixels outside the source image are filled when framing cannot avoid them (reflect|replicate|constant).
    max_fit_zoom: how far the first frame may zoom in so that every frame samples inside the source image.
    """

    transforms: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TRANSFORMS))
    ranges: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    mixup: bool = True
    mixup_alpha: float = 1.0
    border: str = "reflect"
    max_fit_zoom: float = 1.5


@dataclass(frozen=True)
class CodecConfig:
    """How frames are stored. mp4 = H.264 yuv420p in MP4 (crf: 0 lossless .. 51 worst; 18-23 is visually clean);
    jpg = one JPEG per frame; recipe = no frames: the source image(s) as JPEG (jpeg_quality) and the PMG
    parameters, rendered by the reader (synth/recipe.py).

    preset ultrafast: about 2x the bytes of veryfast at equal crf, but 2.5x faster to encode here and faster to
    decode (CAVLC, no B-frames), which is what the training loader pays for on every epoch.
    """

    format: str = "mp4"
    backend: str = "pyav"
    crf: int = 20
    preset: str = "ultrafast"
    jpeg_quality: int = 90


@dataclass(frozen=True)
class RenderConfig:
    images: str = "fractal"
    labels: bool = False
    num_videos: int | None = None  # None: one clip per source image
    frames: int = 16
    size: int = 224
    fps: int = 8
    shard_size: int = 500
    seed: int = 0
    name: str = "pseudomotion"
    on_bad_image: str = "skip"
    motion: MotionConfig = field(default_factory=MotionConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Identity of the dataset this config renders (everything that changes bytes)."""
        from .sources.base import sha256_hex

        return sha256_hex(json.dumps(self.to_dict(), sort_keys=True))

    def validate(self) -> "RenderConfig":
        checks = [
            (self.frames >= 2, "--frames must be at least 2"),
            (self.size >= 16 and self.size % 2 == 0, "--size must be an even number of pixels >= 16 (H.264 4:2:0)"),
            (self.fps >= 1, "--fps must be at least 1"),
            (self.shard_size >= 1, "--shard-size must be at least 1"),
            (self.num_videos is None or self.num_videos >= 1, "--num-videos must be at least 1"),
            (self.on_bad_image in ("skip", "fail"), "--on-bad-image must be skip or fail"),
            (self.codec.format in ("mp4", "jpg", "recipe"), "--format must be mp4, jpg or recipe"),
            (0 <= self.codec.crf <= 51, "--crf must be within 0..51"),
            (self.motion.border in ("reflect", "replicate", "constant"), "border must be reflect, replicate or constant"),
            (bool(self.motion.transforms), "--transforms needs at least one transform"),
            (all(w > 0 for w in self.motion.transforms.values()), "--transforms weights must be positive"),
            (self.motion.mixup_alpha > 0, "mixup_alpha must be positive"),
            (self.motion.max_fit_zoom >= 1, "max_fit_zoom must be >= 1"),
            (bool(self.name) and "/" not in self.name, "--name must be a plain file-name prefix"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)
        return self


def from_dict(data: dict[str, Any]) -> RenderConfig:
    """Build a config from nested plain data (YAML recipe, manifest, CLI overrides)."""
    return build_dataclass(RenderConfig, data, "")


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """typing.get_type_hints, once per class: it costs ~0.1 ms a call, and the loader builds a MotionConfig for
    every recipe sample it reads."""
    return typing.get_type_hints(cls)


def build_dataclass(cls: type, data: Any, where: str) -> Any:
    """cls from a mapping, nested dataclasses included; unknown keys are an error, not ignored.

    where: the dotted path for messages ('' at the top). Lists become tuples (frozen configs stay hashable).
    """
    name_of = where or "config"
    if not isinstance(data, dict):
        raise UserError(f"{name_of}: expected a mapping of fields, got {data!r}; fix the config file")
    hints = _type_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise UserError(f"{name_of}: unknown field(s) {', '.join(unknown)}; known: {', '.join(hints)}")
    values = {}
    for name, value in data.items():
        if dataclasses.is_dataclass(hints[name]):
            value = build_dataclass(hints[name], value or {}, f"{where}.{name}".lstrip("."))
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    try:
        return cls(**values)
    except TypeError as e:
        raise UserError(f"{name_of}: {e}; fix the config file or flag") from None


def plain_data(value: Any) -> Any:
    """Tuples back to lists, recursively: the JSON/YAML shape of a config."""
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML config or recipe file as plain data (validated later); an empty file is an empty mapping."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise UserError(f"{path}: cannot read the file ({e.strerror}); check the path") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}: not valid YAML{where} ({getattr(e, 'problem', None) or e}); fix the file") from None
    if data is not None and not isinstance(data, dict):
        raise UserError(f"{path}: must be a YAML mapping of config fields, e.g. 'frames: 16'")
    return data or {}


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge overrides (None values mean 'not given') into base."""
    out = dict(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, dict):
            out[key] = merge(out.get(key) or {}, value)
        else:
            out[key] = value
    return out
