"""The pre-trained encoder of a training checkpoint, written for fine-tuning in one of three layouts.

- pseudomotion: {'format', 'model_config', 'encoder', 'step', 'config'} for `load_encoder` (plain data,
  weights_only loadable); 'config' is the run's, so evaluations can name the pre-training data.
- videomae: {'model': state dict} with `encoder.`-prefixed keys, what the official MCG-NJU/VideoMAE fine-tuning
  script (`--finetune`) reads.
- transformers: a folder `transformers.VideoMAEModel.from_pretrained` loads offline (config.json and
  model.safetensors), use_mean_pooling=False so its last_hidden_state equals our encoder's features.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from synth.errors import UserError
from train.checkpoint import read, save_atomic
from train.convert import to_official, to_transformers, transformers_config
from train.model import VideoMAEConfig, VideoViTEncoder

ENCODER_FORMAT = "pseudomotion-encoder/1"


def encoder_state(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The encoder's weights of a training checkpoint, keys as in the full model (`encoder.`...)."""
    return {k: v for k, v in state["model"].items() if k.startswith("encoder.")}


def export_pseudomotion(state: dict[str, Any], out: Path) -> Path:
    encoder = {k.removeprefix("encoder."): v for k, v in encoder_state(state).items()}
    save_atomic({"format": ENCODER_FORMAT, "model_config": state["model_config"], "encoder": encoder,
                 "step": state["step"], "config": state["config"]}, out)
    return out


def export_videomae(state: dict[str, Any], out: Path) -> Path:
    save_atomic({"model": to_official(encoder_state(state))}, out)
    return out


def export_transformers(state: dict[str, Any], out: Path) -> Path:
    try:
        import transformers
    except ImportError:
        raise UserError("--format transformers needs the transformers package; pip install transformers") from None
    cfg = VideoMAEConfig(**state["model_config"])
    model = transformers.VideoMAEModel(transformers.VideoMAEConfig(**transformers_config(cfg)))
    model.load_state_dict(to_transformers(encoder_state(state), encoder_only=True), strict=True)
    transformers.utils.logging.disable_progress_bar()  # one file: no "Writing model shards" bar
    model.save_pretrained(out, safe_serialization=True)
    return out


FORMATS: dict[str, Callable[[dict[str, Any], Path], Path]] = {
    "pseudomotion": export_pseudomotion,
    "videomae": export_videomae,
    "transformers": export_transformers,
}


def export(state: dict[str, Any], fmt: str, out: Path) -> Path:
    """Write the encoder of checkpoint `state` to out (a file; a folder for transformers)."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return FORMATS[fmt](state, out)


def load_encoder(path: Path) -> VideoViTEncoder:
    """The encoder exported with --format pseudomotion, ready for fine-tuning (`forward_features`)."""
    data = read(path, ENCODER_FORMAT)
    encoder = VideoViTEncoder(VideoMAEConfig(**data["model_config"]))
    encoder.load_state_dict(data["encoder"], strict=True)
    return encoder
