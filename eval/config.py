"""Fine-tuning and linear-probe configuration: frozen dataclasses with VideoMAE's defaults, loaded from YAML,
overridden by the CLI, saved as RUN/config.yaml and inside every checkpoint and result.

Per-dataset protocol defaults (frame step, test views, flips) live in DATASET_DEFAULTS and are written into the
resolved config, so a saved config says exactly what ran. The optimiser section reuses train's
OptimConfig with fine-tuning defaults; device and precision are validated and set up by train's LoopConfig/setup.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from eval.datasets import DATASETS
from eval.pretrained import SCRATCH
from eval.synthmotion import NAME as SYNTHMOTION
from synth.config import build_dataclass, load_yaml, merge, plain_data
from synth.errors import UserError
from train.config import LoopConfig, OptimConfig
from train.model import MODEL_SIZES


@dataclass(frozen=True)
class DatasetDefaults:
    """A benchmark's protocol where the flags leave it open. rate: frames between picks (dense sampling);
    clips x crops: test views; flip: mirror training clips (off where mirroring changes the class)."""

    rate: int
    clips: int
    crops: int
    flip: bool


# VideoMAE's fine-tuning scripts: UCF101 16x4 frames, 5 clips x 3 crops (HMDB51 the same views, 16x2 frames);
# Diving48 is read TSN-style like SSV2, which VideoMAE tests on 2 clips x 3 crops. synthmotion clips are exactly
# `frames` long and square, and mirroring swaps move_left/move_right, so one view and no flip.
DATASET_DEFAULTS: dict[str, DatasetDefaults] = {
    "ucf101": DatasetDefaults(rate=4, clips=5, crops=3, flip=True),
    "hmdb51": DatasetDefaults(rate=2, clips=5, crops=3, flip=True),
    "diving48": DatasetDefaults(rate=4, clips=2, crops=3, flip=True),
    "folder": DatasetDefaults(rate=4, clips=5, crops=3, flip=True),
    "csv": DatasetDefaults(rate=4, clips=5, crops=3, flip=True),
    SYNTHMOTION: DatasetDefaults(rate=1, clips=1, crops=1, flip=False),
}


@dataclass(frozen=True)
class BenchmarkConfig:
    """Which videos and how clips are cut from them.

    dataset: ucf101, hmdb51, diving48, folder, csv or synthmotion. root: its folder (for synthmotion, where the
        clips are written on first use). split: the official split (1..3 for UCF101/HMDB51).
    frames, size: clip length and square side in pixels (the short side is resized to size, then cropped).
    rate, clips, crops: frame step and test views; None takes DATASET_DEFAULTS.
    max_train, max_test: at most this many videos, class-balanced (quick runs); None = all.
    batch_size: clips per step on each process (VideoMAE fine-tunes 8-16 per GPU). num_workers: decoding processes.
    """

    dataset: str = ""
    root: str = ""
    split: int = 1
    frames: int = 16
    size: int = 224
    rate: int | None = None
    clips: int | None = None
    crops: int | None = None
    max_train: int | None = None
    max_test: int | None = None
    batch_size: int = 16
    num_workers: int = 8

    def __post_init__(self) -> None:
        if self.dataset not in DATASET_DEFAULTS:
            raise UserError(f"--dataset {self.dataset or '(missing)'}: choose one of {', '.join(DATASET_DEFAULTS)}")
        if not self.root:
            raise UserError(f"--root is required: the {self.dataset} folder"
                            + (" (clips are written there on first use)" if self.dataset == SYNTHMOTION else ""))
        splits = DATASETS[self.dataset].splits if self.dataset in DATASETS else 1
        if not 1 <= self.split <= splits:
            raise UserError(f"--split {self.split}: {self.dataset} has splits 1..{splits}")
        for name in ("frames", "size", "batch_size", "rate", "clips", "crops", "max_train", "max_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"data.{name}={value} (--{name.replace('_', '-')}): must be at least 1")
        if self.num_workers < 0:
            raise UserError(f"data.num_workers={self.num_workers} (--num-workers): must be 0 or more")


@dataclass(frozen=True)
class EncoderConfig:
    """checkpoint: a train-vmae run folder or checkpoint, an exported encoder, an official VideoMAE .pth, a
    transformers folder, or 'scratch'. size: the model size; None takes the checkpoint's (base for scratch)."""

    checkpoint: str = SCRATCH
    size: str | None = None

    def __post_init__(self) -> None:
        if self.size is not None and self.size not in MODEL_SIZES:
            raise UserError(f"--model {self.size}: choose one of {', '.join(MODEL_SIZES)}")


@dataclass(frozen=True)
class FinetuneModelConfig(EncoderConfig):
    """VideoMAE's fine-tuning model: drop_path (stochastic depth, max rate), fc_drop (dropout before the head),
    head_init_scale (head weights scaled after init), layer_decay (lr x layer_decay ** (depth + 1 - layer))."""

    drop_path: float = 0.1
    fc_drop: float = 0.0
    head_init_scale: float = 0.001
    layer_decay: float = 0.75

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (0 <= self.drop_path < 1 and 0 <= self.fc_drop < 1 and 0 < self.layer_decay <= 1):
            raise UserError(f"model drop_path={self.drop_path}, fc_drop={self.fc_drop}, layer_decay="
                            f"{self.layer_decay}: need drop rates in [0, 1) and layer_decay in (0, 1]")


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation besides the multi-scale crop: flip (None: the dataset's default), Mixup/CutMix alphas
    (0 = off; timm.data.Mixup with VideoMAE's prob 1.0 and switch prob 0.5) and label smoothing."""

    flip: bool | None = None
    mixup: float = 0.8
    cutmix: float = 1.0
    mix_prob: float = 1.0
    switch_prob: float = 0.5
    label_smoothing: float = 0.1

    @property
    def mixing(self) -> bool:
        return self.mix_prob > 0 and (self.mixup > 0 or self.cutmix > 0)


@dataclass(frozen=True)
class RunConfig:
    """How long and where. epochs: passes over the training videos (or cached features); device: auto (cuda when
    available), cpu, cuda or cuda:N; precision: auto = bf16 autocast on CUDA, fp32 on CPU; log_every: steps between
    metrics records; progress: a progress bar (None: on a terminal); tensorboard: also log to RUN/tensorboard."""

    epochs: int = 100
    device: str = "auto"
    precision: str = "auto"
    log_every: int = 10
    progress: bool | None = None
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.log_every < 1:
            raise UserError(f"run.epochs={self.epochs}, run.log_every={self.log_every} (--epochs): must be >= 1")
        self.loop()  # validates device and precision

    def loop(self) -> LoopConfig:
        """The same choices as train's LoopConfig, for train.loop.setup and the metrics writer."""
        return LoopConfig(epochs=self.epochs, device=self.device, precision=self.precision, progress=self.progress,
                          tensorboard=self.tensorboard, log_every=self.log_every)


@dataclass(frozen=True)
class FinetuneRunConfig(RunConfig):
    """save_every: epochs between checkpoints (one is always written at the end); compile: torch.compile."""

    save_every: int = 1
    compile: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.save_every < 1:
            raise UserError(f"run.save_every={self.save_every}: must be at least 1 (epochs)")


@dataclass(frozen=True)
class FinetuneConfig:
    """A fine-tuning run (`eval-vmae finetune`). seed: head init, data order, crops, Mixup and stochastic depth."""

    seed: int = 0
    data: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    model: FinetuneModelConfig = field(default_factory=FinetuneModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: FinetuneRunConfig = field(default_factory=FinetuneRunConfig)

    def __post_init__(self) -> None:
        if self.augment.mixing and self.data.batch_size % 2:
            raise UserError(f"--batch-size {self.data.batch_size}: Mixup/CutMix pairs clips, so use an even batch "
                            f"or --no-mixup")

    def to_dict(self) -> dict[str, Any]:
        return plain_data(dataclasses.asdict(self))


@dataclass(frozen=True)
class LinearConfig:
    """A linear probe (`eval-vmae linear`): frozen features, then BatchNorm (no affine) + a linear layer trained
    with AdamW on the cached features. probe_batch: features per step of the linear layer."""

    seed: int = 0
    probe_batch: int = 256
    data: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    model: EncoderConfig = field(default_factory=EncoderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        if self.probe_batch < 1:
            raise UserError(f"probe_batch={self.probe_batch}: must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return plain_data(dataclasses.asdict(self))


EvalConfig = FinetuneConfig | LinearConfig

# Defaults that differ from train's pre-training ones. Fine-tuning: VideoMAE's run_class_finetuning.py (blr 1e-3
# x batch / 256, min lr 1e-6, AdamW betas 0.9/0.999, 5 warmup epochs of UCF101's 100). Linear probe: ours (AdamW on
# cached features, MAE's 90 epochs, no weight decay, 10% warmup); LARS matters for MAE's batch of 16384, not here.
PROTOCOLS: dict[str, tuple[type, dict[str, Any]]] = {
    "finetune": (FinetuneConfig, {"optim": {"base_lr": 1e-3, "min_lr": 1e-6, "betas": [0.9, 0.999],
                                            "warmup": 0.05, "weight_decay": 0.05},
                                  "run": {"epochs": 100}}),
    "linear": (LinearConfig, {"optim": {"base_lr": 1e-3, "min_lr": 0.0, "betas": [0.9, 0.999], "warmup": 0.1,
                                        "weight_decay": 0.0},
                              "run": {"epochs": 90, "log_every": 50}}),
}


def with_dataset_defaults(data: dict[str, Any], protocol: str) -> dict[str, Any]:
    """data with the dataset's rate, views and flip filled in where not given."""
    section = dict(data.get("data") or {})
    defaults = DATASET_DEFAULTS.get(section.get("dataset", ""))
    if defaults is None:
        return data  # BenchmarkConfig names the choices
    for key in ("rate", "clips", "crops"):
        if section.get(key) is None:
            section[key] = getattr(defaults, key)
    out = {**data, "data": section}
    if protocol == "finetune" and (data.get("augment") or {}).get("flip") is None:
        out["augment"] = {**(data.get("augment") or {}), "flip": defaults.flip}
    return out


def resolve(protocol: str, overrides: dict[str, Any], *, config_file: str | None = None,
            saved: dict[str, Any] | None = None) -> EvalConfig:
    """protocol defaults <- saved run config (when resuming) <- YAML file <- CLI overrides (None = not given),
    then the dataset's protocol defaults where still unset."""
    cls, defaults = PROTOCOLS[protocol]
    data = merge(merge(merge(defaults, saved or {}), load_yaml(config_file) if config_file else {}), overrides)
    return build_dataclass(cls, with_dataset_defaults(data, protocol), "")

