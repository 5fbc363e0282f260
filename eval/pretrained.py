"""The pre-trained encoder a fine-tuning or probe starts from, read from the formats people hold, with what is known
about the data it was pre-trained on.

Kinds (READERS), told apart by what the path holds:
- pseudomotion: a `train-vmae` run folder (its checkpoint-last.pt) or a training checkpoint file;
- pseudomotion-encoder: a file from `train-vmae export --format pseudomotion`;
- videomae: an official MCG-NJU/VideoMAE pre-training checkpoint (state dict under 'model' or 'module', keys
  'encoder.'...), or `train-vmae export --format videomae`;
- transformers: a folder that `transformers.VideoMAEModel.from_pretrained` loads offline (a VideoMAEModel or
  VideoMAEForPreTraining checkpoint);
- scratch: no weights (random initialisation).
Only our own files record the pre-training data (the checkpoint's config names the shards, whose manifest says
what they hold); the others record the path alone.
"""
from __future__ import annotations

import argparse
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from synth.errors import UserError
from train import checkpoint
from train.convert import from_official, from_transformers
from train.export import ENCODER_FORMAT
from train.model import MODEL_SIZES, VideoMAEConfig
from train.shards import resolve_shards

SCRATCH = "scratch"
TRANSFORMERS_CONFIG = "config.json"


@dataclass(frozen=True)
class Pretrained:
    """Encoder weights and where they came from.

    config: the checkpoint's model shape (None for scratch); encoder: a VideoViTEncoder state dict (None for
    scratch); pretraining: what is known of the pre-training (kind, checkpoint, model, step, data, label).
    """

    kind: str
    path: str
    config: VideoMAEConfig | None = None
    encoder: dict[str, Tensor] | None = None
    pretraining: dict[str, Any] = field(default_factory=dict)


def size_name(cfg: VideoMAEConfig) -> str:
    """The registered size with this width, depth and heads, else a description of the shape."""
    for name, size in MODEL_SIZES.items():
        if (size.embed_dim, size.depth, size.heads) == (cfg.embed_dim, cfg.depth, cfg.heads):
            return name
    return f"custom (width {cfg.embed_dim}, depth {cfg.depth}, heads {cfg.heads})"


def strip_encoder(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keys 'encoder.x' -> 'x' (a VideoViTEncoder state dict); the decoder's weights are dropped."""
    return {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}


# ------------------------------------------------------------------------------------------- pre-training data

def pretraining_data(train_config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The pre-training data a train-vmae config names: the shards' manifest summarised, or the shard spec alone
    when the manifest cannot be read any more (moved or deleted shards); for `--images` runs, the image source
    and the motion recipe rendered from it as it trained."""
    if train_config and train_config.get("images"):
        return images_data(train_config)
    if not train_config or not train_config.get("shards"):
        return None
    spec = train_config["shards"]
    try:
        _, manifest = resolve_shards(spec)
    except UserError as e:
        return {"shards": spec, "manifest": f"unavailable ({e})"}
    if manifest is None:
        return {"shards": spec, "manifest": "none (shards given without their dataset folder)"}
    config, source = manifest.get("config", {}), manifest.get("source", {})
    motion = config.get("motion", {})
    return {
        "shards": spec,
        "name": manifest.get("name"),
        "source": config.get("images"),
        "source_kind": source.get("kind"),
        "clips": manifest.get("totals", {}).get("samples"),
        "transforms": sorted(motion.get("transforms", {})),
        "mixup": motion.get("mixup"),
        "frames": config.get("frames"),
        "size": config.get("size"),
        "config_hash": manifest.get("config_hash"),
    }


def images_data(train_config: dict[str, Any]) -> dict[str, Any]:
    """What a `train-vmae --images` run trained on: no shards, clips drawn from the source as it went."""
    data, motion = train_config.get("data", {}), train_config.get("motion", {})
    return {
        "images": train_config["images"],
        "source": train_config["images"],
        "clips": data.get("epoch_samples"),  # per epoch; None: one per image
        "transforms": sorted(motion.get("transforms", {})),
        "mixup": motion.get("mixup"),
        "fresh_motion": data.get("fresh_motion"),
        "frames": data.get("frames"),
        "size": data.get("size"),
    }


def data_label(data: dict[str, Any] | None) -> str | None:
    """A short name for a report row, e.g. 'PMG fractal:categories=8 (64 clips; affine+zoom, mixup)'."""
    if not data or data.get("source") is None:
        return None
    motion = "+".join(data.get("transforms") or []) + (", mixup" if data.get("mixup") else "")
    if "images" in data:  # rendered as it trained
        fresh = ", fresh motion" if data.get("fresh_motion") else ""
        return f"PMG {data['source']} (rendered while training{fresh}; {motion})"
    return f"PMG {data['source']} ({data.get('clips')} clips; {motion})"


def provenance(kind: str, path: Path, cfg: VideoMAEConfig, *, step: int | None = None,
               train_config: dict[str, Any] | None = None) -> dict[str, Any]:
    data = pretraining_data(train_config)
    return {"kind": kind, "checkpoint": str(path), "model": size_name(cfg), "step": step, "data": data,
            "label": data_label(data) or f"{kind}: {path.name}"}


# -------------------------------------------------------------------------------------------------------- readers

def read_run_checkpoint(path: Path, state: dict[str, Any]) -> Pretrained:
    cfg = VideoMAEConfig(**state["model_config"])
    return Pretrained("pseudomotion", str(path), cfg, strip_encoder(state["model"]),
                      provenance("pseudomotion", path, cfg, step=state.get("step"), train_config=state.get("config")))


def read_exported(path: Path, state: dict[str, Any]) -> Pretrained:
    cfg = VideoMAEConfig(**state["model_config"])
    return Pretrained("pseudomotion-encoder", str(path), cfg, dict(state["encoder"]),
                      provenance("pseudomotion-encoder", path, cfg, step=state.get("step"),
                                 train_config=state.get("config")))


def read_official(path: Path, state: dict[str, Any]) -> Pretrained:
    try:
        encoder = strip_encoder(from_official(state))
    except ValueError as e:
        raise UserError(f"{path}: not a VideoMAE pre-training checkpoint ({str(e)[:200]}); pass a train-vmae run, "
                        f"an exported encoder, an official VideoMAE .pth or a transformers folder") from None
    cfg = official_config(path, encoder)
    return Pretrained("videomae", str(path), cfg, encoder, provenance("videomae", path, cfg))


def official_config(path: Path, encoder: dict[str, Tensor]) -> VideoMAEConfig:
    """The model shape of an official state dict: width, channels, tubelet and patch from the cube embedding,
    depth from the blocks, heads from the registered size of that width and depth (official weights do not
    record them). Frames and image size are left at the default; fine-tuning sets them."""
    width, chans, tubelet, patch, _ = encoder["patch_embed.proj.weight"].shape
    depth = len({k.split(".")[1] for k in encoder if k.startswith("blocks.")})
    size = next((s for s in MODEL_SIZES.values() if (s.embed_dim, s.depth) == (width, depth)), None)
    if size is None:
        known = ", ".join(f"{n} ({s.embed_dim} wide, {s.depth} deep)" for n, s in MODEL_SIZES.items())
        raise UserError(f"{path}: a VideoMAE {width} wide and {depth} deep matches no registered size ({known}); "
                        f"convert it to a transformers folder, whose config names the heads")
    hidden = encoder["blocks.0.mlp.fc1.weight"].shape[0]
    return VideoMAEConfig(patch=patch, tubelet=tubelet, in_chans=chans, embed_dim=width, depth=depth,
                          heads=size.heads, mlp_ratio=hidden / width, qkv_bias="blocks.0.attn.q_bias" in encoder,
                          decoder_dim=size.decoder_dim, decoder_heads=size.decoder_heads)


def read_transformers(path: Path) -> Pretrained:
    try:
        import transformers
    except ImportError:
        raise UserError(f"{path}: a transformers folder needs the transformers package; pip install "
                        f"transformers") from None
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # loading a ForPreTraining folder lists the decoder it drops
    try:
        model = transformers.VideoMAEModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: transformers cannot load it offline ({str(e).splitlines()[0][:160]}); pass a "
                        f"folder written by save_pretrained") from None
    finally:
        transformers.logging.set_verbosity(verbosity)
    hf = model.config
    state = dict(model.state_dict())
    if hf.use_mean_pooling:  # this encoder has no final norm: give it an identity one
        state["layernorm.weight"] = torch.ones(hf.hidden_size)
        state["layernorm.bias"] = torch.zeros(hf.hidden_size)
    cfg = VideoMAEConfig(img_size=hf.image_size, frames=hf.num_frames, patch=hf.patch_size,
                         tubelet=hf.tubelet_size, in_chans=hf.num_channels, embed_dim=hf.hidden_size,
                         depth=hf.num_hidden_layers, heads=hf.num_attention_heads,
                         mlp_ratio=hf.intermediate_size / hf.hidden_size, qkv_bias=hf.qv_bias,
                         decoder_dim=hf.decoder_hidden_size, decoder_depth=hf.decoder_num_hidden_layers,
                         decoder_heads=hf.decoder_num_attention_heads)
    return Pretrained("transformers", str(path), cfg, strip_encoder(from_transformers(state)),
                      provenance("transformers", path, cfg))


FileReader = Callable[[Path, dict[str, Any]], Pretrained]
# A file's 'format' field -> its reader; files without one are official VideoMAE checkpoints.
FILE_FORMATS: dict[str, FileReader] = {checkpoint.FORMAT: read_run_checkpoint, ENCODER_FORMAT: read_exported}


def load_file(path: Path) -> dict[str, Any]:
    """A checkpoint file loaded without running pickled code (argparse.Namespace, which official VideoMAE
    checkpoints store their arguments in, is allowed)."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise UserError(f"{path}: not a loadable checkpoint ({reason}); pass a train-vmae run or export, an "
                        f"official VideoMAE .pth or a transformers folder") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: holds a {type(state).__name__}, not a checkpoint dict")
    return state


def load_pretrained(spec: str) -> Pretrained:
    """The encoder named by --checkpoint: 'scratch', a run folder, a transformers folder or a checkpoint file."""
    if spec == SCRATCH:
        return Pretrained(SCRATCH, SCRATCH, pretraining={"kind": SCRATCH, "checkpoint": None, "data": None,
                                                         "label": SCRATCH})
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / checkpoint.LAST).is_file():
            path = path / checkpoint.LAST
        elif (path / TRANSFORMERS_CONFIG).is_file():
            return read_transformers(path)
        else:
            raise UserError(f"--checkpoint {spec}: a folder with neither {checkpoint.LAST} (a train-vmae run) nor "
                            f"{TRANSFORMERS_CONFIG} (a transformers checkpoint); pass one of those or 'scratch'")
    elif not path.exists():
        raise UserError(f"--checkpoint {spec}: not found; pass a train-vmae run folder, a checkpoint file, a "
                        f"transformers folder or 'scratch'")
    state = load_file(path)
    fmt = state.get("format")
    if fmt is not None and fmt not in FILE_FORMATS:
        raise UserError(f"{path}: a {fmt} file, not a pre-trained encoder; pass the pre-training run or its export")
    return FILE_FORMATS.get(fmt, read_official)(path, state)
