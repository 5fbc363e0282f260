"""Training configuration: frozen dataclasses with VideoMAE's defaults, loaded from YAML, overridden by the CLI.

One source of truth for every default. The resolved config (frames and size filled in from the shards' manifest)
is saved as RUN/config.yaml and inside every checkpoint, so a run can be resumed, compared and reproduced.
Quantities that depend on the number of ranks (global batch, peak lr, steps of an --epochs run) are derived at run
time from this config, not stored in it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from synth.config import MotionConfig, build_dataclass, load_yaml, merge, plain_data
from synth.errors import UserError
from synth.shards import write_atomic
from train.data import DataConfig
from train.masking import DECODER_MASKS, MASKS
from train.model import MODEL_SIZES, VideoMAEConfig
from train.shards import resolve_shards

CONFIG_FILE = "config.yaml"
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
LENGTHS = ("steps", "epochs")


@dataclass(frozen=True)
class ModelConfig:
    """size: a registered VideoMAE size; drop_path: stochastic depth (VideoMAE pre-trains without it)."""

    size: str = "base"
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        if self.size not in MODEL_SIZES:
            raise UserError(f"model.size={self.size!r} (--model): unknown; choose one of {', '.join(MODEL_SIZES)}")


@dataclass(frozen=True)
class MaskConfig:
    """Encoder masking (VideoMAE: tube, 0.75 of the tokens hidden) and optional VideoMAE V2 decoder masking.

    decoder_ratio: fraction of the masked tokens the decoder skips (V2 uses 0.5 with running_cell); 0 = off.
    """

    kind: str = "tube"
    ratio: float = 0.75
    decoder: str = "running_cell"
    decoder_ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in MASKS:
            raise UserError(f"mask.kind={self.kind!r} (--mask): choose one of {', '.join(MASKS)}")
        if self.decoder not in DECODER_MASKS:
            raise UserError(f"mask.decoder={self.decoder!r}: choose one of {', '.join(DECODER_MASKS)}")
        if not 0 < self.ratio < 1:
            raise UserError(f"mask.ratio={self.ratio} (--mask-ratio): must be between 0 and 1, e.g. 0.75 or 0.9")
        if not 0 <= self.decoder_ratio < 1:
            raise UserError(f"mask.decoder_ratio={self.decoder_ratio} (--decoder-mask-ratio): must be in [0, 1)")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warmup and a cosine decay, as VideoMAE pre-training.

    lr: peak learning rate; None scales base_lr by the global batch: base_lr * global_batch / 256.
    min_lr: where the cosine ends (absolute). warmup: fraction of all steps (VideoMAE: 40 of 800 epochs).
    weight_decay: on weight matrices only; norms, biases, position embeddings and the mask token get none.
    clip_grad: max global gradient norm; None (VideoMAE's pre-training default) does not clip.
    accum: micro-batches per optimizer step (the global batch counts all of them).
    """

    base_lr: float = 1.5e-4
    lr: float | None = None
    min_lr: float = 1e-5
    warmup: float = 0.05
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    clip_grad: float | None = None
    accum: int = 1

    def __post_init__(self) -> None:
        if self.accum < 1:
            raise UserError(f"optim.accum={self.accum} (--accum): must be at least 1")
        if (self.lr is not None and self.lr <= 0) or self.base_lr <= 0 or self.min_lr < 0:
            raise UserError(f"optim lr={self.lr}, base_lr={self.base_lr}, min_lr={self.min_lr}: must be positive")
        if not 0 <= self.warmup < 1:
            raise UserError(f"optim.warmup={self.warmup}: a fraction of the steps in [0, 1)")
        if self.clip_grad is not None and self.clip_grad <= 0:
            raise UserError(f"optim.clip_grad={self.clip_grad}: must be positive, or null to not clip")


@dataclass(frozen=True)
class LoopConfig:
    """How long, where and how the run is driven and recorded.

    steps or epochs: run length; an epoch is the manifest's sample count divided by the global batch.
    device: auto (cuda when available), cpu or cuda. precision: auto = bf16 autocast on CUDA, fp32 on CPU;
        fp16 uses a gradient scaler. compile: torch.compile the model.
    save_every: steps between checkpoints (one is always written at the end). keep: numbered checkpoints kept
        besides checkpoint-last.pt (0: none). log_every: steps between metrics records.
    progress: a progress bar; None shows one on a terminal. tensorboard: also log to RUN/tensorboard when installed.
    log_samples: each rank writes the sample keys it trained on to RUN/samples-rank{R}.jsonl (to audit sharding).
    """

    steps: int | None = None
    epochs: int | None = None
    device: str = "auto"
    precision: str = "auto"
    compile: bool = False
    save_every: int = 1000
    keep: int = 0
    log_every: int = 10
    progress: bool | None = None
    tensorboard: bool = True
    log_samples: bool = False

    def __post_init__(self) -> None:
        if self.steps is not None and self.epochs is not None:
            raise UserError(f"loop.steps={self.steps} and loop.epochs={self.epochs}: give one, not both")
        for name in ("steps", "epochs"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise UserError(f"loop.{name}={getattr(self, name)} (--{name}): must be at least 1")
        if self.device.split(":")[0] not in DEVICES:
            raise UserError(f"loop.device={self.device!r} (--device): choose auto, cpu, cuda or cuda:N")
        if self.precision not in PRECISIONS:
            raise UserError(f"loop.precision={self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if min(self.save_every, self.log_every) < 1 or self.keep < 0:
            raise UserError("loop.save_every and loop.log_every must be at least 1 and loop.keep at least 0")


@dataclass(frozen=True)
class TrainConfig:
    """A whole pre-training run. shards: anything train.shards.resolve_shards accepts; or images: an image source
    (anything synth.sources.open_source accepts) rendered with synth's `motion` recipe at data.frames x
    data.size, no shards (motion is unused with shards). seed: model init, masks and crops (the data order and
    the --images draws have their own data.seed; --seed sets both)."""

    shards: str = ""
    images: str = ""
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)

    def __post_init__(self) -> None:
        if not self.shards and not self.images:
            raise UserError("--shards is required: a dataset directory written by `synth render`, a glob or tar paths "
                            "(or --images SOURCE to render clips from images as it trains)")
        if self.shards and self.images:
            raise UserError(f"--shards {self.shards} and --images {self.images}: train on one, not both")
        if self.loop.steps is None and self.loop.epochs is None:
            raise UserError("say how long to train: --steps N or --epochs N (VideoMAE pre-trains 800 epochs)")
        if self.data.resampled:
            raise UserError("data.resampled=true: training reads exact epochs (disjoint shards per rank, exactly "
                            "resumable); set it to false")
        model_config(self)  # the model must be buildable at this frame count and size

    def to_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists) for YAML and checkpoints."""
        return plain_data(dataclasses.asdict(self))


def model_config(cfg: TrainConfig) -> VideoMAEConfig:
    """The VideoMAE shape for this run: the registered size at the data's frame count and frame size."""
    try:
        return replace(MODEL_SIZES[cfg.model.size], img_size=cfg.data.size, frames=cfg.data.frames,
                       drop_path=cfg.model.drop_path)
    except ValueError as e:
        raise UserError(f"data.frames={cfg.data.frames}, data.size={cfg.data.size} (--frames, --size): {e}") from None


def from_dict(data: dict[str, Any]) -> TrainConfig:
    """Build a config from nested plain data (YAML, a checkpoint); unknown keys are an error, not ignored."""
    return build_dataclass(TrainConfig, data, "")


def with_manifest_shape(data: dict[str, Any]) -> dict[str, Any]:
    """data with data.frames and data.size taken from the shards' manifest where not given (left at DataConfig's
    defaults when the shards have no manifest)."""
    if not data.get("shards") or data.get("images"):
        return data
    _, manifest = resolve_shards(data["shards"])
    rendered = (manifest or {}).get("config", {})
    section = dict(data.get("data") or {})
    for key in ("frames", "size"):
        if section.get(key) is None and rendered.get(key) is not None:
            section[key] = rendered[key]
    return {**data, "data": section}


def resolve(overrides: dict[str, Any], *, config_file: str | None = None,
            saved: dict[str, Any] | None = None) -> TrainConfig:
    """defaults <- saved run config (when resuming) <- YAML file <- CLI overrides (None = not given), then the
    manifest's frames and size where still unset. A run length (steps or epochs) in the overrides replaces
    both of the earlier ones."""
    data = merge(saved or {}, load_yaml(config_file) if config_file else {})
    if any((overrides.get("loop") or {}).get(k) is not None for k in LENGTHS):
        data["loop"] = {k: v for k, v in (data.get("loop") or {}).items() if k not in LENGTHS}
    return from_dict(with_manifest_shape(merge(data, overrides)))


def save_config(cfg: Any, path: Path) -> None:
    """Any run config with to_dict() (pre-training, fine-tuning, probing) as YAML, written atomically."""
    write_atomic(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False).encode())


def load_saved(run: Path) -> dict[str, Any] | None:
    """RUN/config.yaml as plain data, or None when the run has none."""
    path = run / CONFIG_FILE
    return load_yaml(path) if path.is_file() else None


def differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two config dicts."""
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out += differences(x, y, f"{prefix}{key}.")
        elif x != y:
            out.append(prefix + key)
    return out
