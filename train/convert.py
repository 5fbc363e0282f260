"""Convert VideoMAE weights between our layout, the official MCG-NJU/VideoMAE one and Hugging Face transformers'.

Our parameter names are those of the official `modeling_pretrain.py` (encoder.blocks.N.attn.qkv.weight, q_bias,
v_bias, encoder_to_decoder, mask_token, decoder.head, ...), so the official conversion only unwraps and checks.
transformers splits qkv into query/key/value and renames every module. All functions are pure dict -> dict and
raise ValueError naming the keys they cannot place; an encoder-only dict (keys under `encoder.`) is accepted
wherever a full pre-training dict is.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from train.model import VideoMAEConfig

StateDict = dict[str, Tensor]

BLOCK_PARAMS = {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.proj.weight", "attn.proj.bias",
                "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"}
QV_BIASES = {"attn.q_bias", "attn.v_bias"}  # present when qkv_bias
ENCODER_PARAMS = {"encoder.patch_embed.proj.weight", "encoder.patch_embed.proj.bias", "encoder.norm.weight",
                  "encoder.norm.bias"}
DECODER_PARAMS = {"encoder_to_decoder.weight", "mask_token", "decoder.norm.weight", "decoder.norm.bias",
                  "decoder.head.weight", "decoder.head.bias"}
OUR_BLOCK_KEY = re.compile(r"(encoder|decoder)\.blocks\.(\d+)\.(.+)")

# ours -> transformers (VideoMAEForPreTraining); names are module prefixes unless they are whole parameter names.
TOP_NAMES = {
    "encoder.patch_embed.proj": "videomae.embeddings.patch_embeddings.projection",
    "encoder.norm": "videomae.layernorm",
    "encoder_to_decoder": "encoder_to_decoder",
    "mask_token": "mask_token",
    "decoder.norm": "decoder.norm",
    "decoder.head": "decoder.head",
}
STACK_NAMES = {"encoder": "videomae.encoder.layer", "decoder": "decoder.decoder_layers"}
BLOCK_NAMES = {
    "norm1": "layernorm_before",
    "attn.q_bias": "attention.attention.query.bias",
    "attn.v_bias": "attention.attention.value.bias",
    "attn.proj": "attention.output.dense",
    "norm2": "layernorm_after",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}
# transformers < 5 (and the checkpoints on the hub) keep the q/v biases as separate parameters.
LEGACY_BLOCK_NAMES = {"attn.q_bias": "attention.attention.q_bias", "attn.v_bias": "attention.attention.v_bias"}
HF_TO_OUR_TOP = {new: old for old, new in TOP_NAMES.items()}
HF_TO_OUR_STACK = {new: old for old, new in STACK_NAMES.items()}
HF_TO_OUR_BLOCK = {new: old for names in (BLOCK_NAMES, LEGACY_BLOCK_NAMES) for old, new in names.items()}
HF_BLOCK_KEY = re.compile(r"(videomae\.encoder\.layer|decoder\.decoder_layers)\.(\d+)\.(.+)")
HF_QKV_KEY = re.compile(r"attention\.attention\.(query|key|value)\.weight")
QKV_PARTS = ("query", "key", "value")


def check_layout(state: Mapping[str, Tensor]) -> None:
    """Raises ValueError naming missing and unexpected keys unless `state` is a complete dict in our layout."""
    encoder_only = is_encoder_only(state)
    expected = ENCODER_PARAMS if encoder_only else ENCODER_PARAMS | DECODER_PARAMS
    optional: set[str] = set()
    for stack in ("encoder",) if encoder_only else ("encoder", "decoder"):
        indices = [int(m[2]) for key in state if (m := OUR_BLOCK_KEY.fullmatch(key)) and m[1] == stack]
        for i in range(max(indices, default=0) + 1):
            expected = expected | {f"{stack}.blocks.{i}.{name}" for name in BLOCK_PARAMS}
            optional |= {f"{stack}.blocks.{i}.{name}" for name in QV_BIASES}
    present = set(state)
    raise_for_keys(expected - present, present - expected - optional)


def is_encoder_only(state: Mapping[str, Any]) -> bool:
    return all(key.startswith("encoder.") for key in state)


def raise_for_keys(missing: set[str], unexpected: set[str]) -> None:
    if not (missing or unexpected):
        return
    parts = [
        f"{label} keys ({len(keys)}): {', '.join(sorted(keys)[:8])}{' ...' if len(keys) > 8 else ''}"
        for label, keys in (("missing", missing), ("unexpected", unexpected))
        if keys
    ]
    raise ValueError("state dict does not match the VideoMAE layout: " + "; ".join(parts))


def rename(key: str, names: Mapping[str, str]) -> str | None:
    """`key` with its leading module prefix (or whole name) replaced through `names`; None when none matches."""
    for old, new in names.items():
        if key == old or key.startswith(old + "."):
            return new + key[len(old):]
    return None


def from_official(checkpoint: Mapping[str, Any]) -> StateDict:
    """Our state dict from an official VideoMAE pre-training checkpoint (state dict under 'model' or 'module') or
    from the state dict itself."""
    state = next((checkpoint[k] for k in ("model", "module") if isinstance(checkpoint.get(k), Mapping)), checkpoint)
    state = dict(state)
    check_layout(state)
    return state


def to_official(state: Mapping[str, Tensor]) -> StateDict:
    """The official layout of our state dict; save it as {'model': ...} for the official scripts."""
    check_layout(state)
    return dict(state)


def to_transformers(state: Mapping[str, Tensor], encoder_only: bool = False) -> StateDict:
    """transformers' VideoMAEForPreTraining state dict, or VideoMAEModel's (use_mean_pooling=False) if encoder_only.

    Encoder-only input always gives the VideoMAEModel layout.
    """
    check_layout(state)
    encoder_only = encoder_only or is_encoder_only(state)
    out: StateDict = {}
    for key, value in state.items():
        if encoder_only and not key.startswith("encoder."):
            continue
        if m := OUR_BLOCK_KEY.fullmatch(key):
            prefix = f"{STACK_NAMES[m[1]]}.{m[2]}."
            if m[3] == "attn.qkv.weight":
                for part, weight in zip(QKV_PARTS, value.chunk(3)):
                    out[f"{prefix}attention.attention.{part}.weight"] = weight.clone()
            else:
                out[prefix + rename(m[3], BLOCK_NAMES)] = value
        else:
            out[rename(key, TOP_NAMES)] = value
    if encoder_only:
        out = {key.removeprefix("videomae."): value for key, value in out.items()}
    return out


def from_transformers(state: Mapping[str, Tensor]) -> StateDict:
    """Our state dict from transformers' VideoMAEForPreTraining or VideoMAEModel (use_mean_pooling=False) weights.

    Accepts both the current query.bias/value.bias names and the older q_bias/v_bias ones.
    """
    if not any(key.startswith("videomae.") for key in state):  # VideoMAEModel: the encoder alone
        state = {f"videomae.{key}": value for key, value in state.items()}
    out: StateDict = {}
    qkv: dict[str, dict[str, Tensor]] = {}  # our block prefix -> {"query": weight, ...}
    unexpected = set()
    for key, value in state.items():
        if (m := HF_BLOCK_KEY.fullmatch(key)) and (part := HF_QKV_KEY.fullmatch(m[3])):
            qkv.setdefault(f"{HF_TO_OUR_STACK[m[1]]}.blocks.{m[2]}.", {})[part[1]] = value
        elif name := our_name(key):
            out[name] = value
        else:
            unexpected.add(key)
    missing = {
        f"{prefix}attn.qkv.weight (needs transformers' {part}.weight)"
        for prefix, parts in qkv.items()
        for part in QKV_PARTS
        if part not in parts
    }
    raise_for_keys(missing, unexpected)
    for prefix, parts in qkv.items():
        out[prefix + "attn.qkv.weight"] = torch.cat([parts[part] for part in QKV_PARTS])
    check_layout(out)
    return out


def our_name(hf_key: str) -> str | None:
    """Our name for a transformers parameter other than the query/key/value weights; None if it has none."""
    if m := HF_BLOCK_KEY.fullmatch(hf_key):
        name = rename(m[3], HF_TO_OUR_BLOCK)
        return None if name is None else f"{HF_TO_OUR_STACK[m[1]]}.blocks.{m[2]}.{name}"
    return rename(hf_key, HF_TO_OUR_TOP)


def transformers_config(cfg: VideoMAEConfig) -> dict[str, Any]:
    """Keyword arguments for transformers.VideoMAEConfig describing the same model as `cfg`.

    transformers' final decoder LayerNorm ignores layer_norm_eps (it uses 1e-5 where official VideoMAE uses 1e-6);
    set `model.decoder.norm.eps = 1e-6` for bit-level agreement.
    """
    return dict(
        image_size=cfg.img_size,
        patch_size=cfg.patch,
        num_channels=cfg.in_chans,
        num_frames=cfg.frames,
        tubelet_size=cfg.tubelet,
        hidden_size=cfg.embed_dim,
        num_hidden_layers=cfg.depth,
        num_attention_heads=cfg.heads,
        intermediate_size=int(cfg.embed_dim * cfg.mlp_ratio),
        decoder_hidden_size=cfg.decoder_dim,
        decoder_num_hidden_layers=cfg.decoder_depth,
        decoder_num_attention_heads=cfg.decoder_heads,
        decoder_intermediate_size=int(cfg.decoder_dim * cfg.mlp_ratio),
        qv_bias=cfg.qkv_bias,
        layer_norm_eps=1e-6,
        use_mean_pooling=False,
        norm_pix_loss=cfg.norm_pix,
    )
