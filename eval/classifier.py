"""VideoMAE's fine-tuning classifier (modeling_finetune.VisionTransformer with use_mean_pooling), built on our
encoder and started from any pre-trained encoder (eval/pretrained.py) or from scratch.

The encoder's position embeddings are the fixed sin-cos table of its token grid, recomputed for the clip length
and frame size being fine-tuned, so a checkpoint pre-trained on other frames or sizes loads as it is; only the cube
embedding's tubelet and patch must match (they come with the checkpoint).
"""
from __future__ import annotations

from dataclasses import replace

import torch
from timm.layers import trunc_normal_
from torch import Tensor, nn

from eval.pretrained import Pretrained, size_name
from synth.errors import UserError
from train.model import LN_EPS, MODEL_SIZES, VideoViTEncoder, init_weights

DEFAULT_SIZE = "base"  # VideoMAE ViT-B, when scratch names no --model


class VideoClassifier(nn.Module):
    """Encoder without its final norm, mean pooling over all tokens, fc_norm, dropout, linear head.

    As official VideoMAE: with mean pooling the pre-trained final norm is dropped and a fresh LayerNorm (fc_norm)
    normalises the pooled feature; the head is trunc-normal initialised and scaled by head_init_scale (0.001) so
    that fine-tuning starts from near-uniform predictions.
    """

    def __init__(self, encoder: VideoViTEncoder, num_classes: int, fc_drop: float = 0.0,
                 head_init_scale: float = 0.001):
        super().__init__()
        encoder.norm = nn.Identity()
        self.encoder = encoder
        dim = encoder.cfg.embed_dim
        self.fc_norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.fc_drop = nn.Dropout(fc_drop)
        self.head = nn.Linear(dim, num_classes)
        trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():
            self.head.weight.mul_(head_init_scale)

    @property
    def depth(self) -> int:
        return len(self.encoder.blocks)

    def forward_features(self, videos: Tensor) -> Tensor:
        """(B, 3, T, H, W) normalised clips -> pooled, normalised features (B, D)."""
        return self.fc_norm(self.encoder.forward_features(videos).mean(dim=1))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head(self.fc_drop(features))  # (B, classes) logits

    def forward(self, videos: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(videos))


def build_encoder(pretrained: Pretrained, *, size: str | None, frames: int, img_size: int,
                  drop_path: float = 0.0) -> VideoViTEncoder:
    """The encoder for clips of frames x img_size^2: the checkpoint's weights and shape (scratch: the registered
    `size`, VideoMAE's pre-training init). UserError when --model names another size than the checkpoint holds,
    or the clip shape does not fit its cubes."""
    if pretrained.config is None:
        base = MODEL_SIZES[size or DEFAULT_SIZE]
    else:
        base = pretrained.config
        if size is not None and size_name(base) != size:
            raise UserError(f"--checkpoint {pretrained.path} holds a VideoMAE-{size_name(base)} encoder but --model "
                            f"asks for {size}; drop --model to use the checkpoint's size, or pass a {size} "
                            f"checkpoint")
    try:
        cfg = replace(base, img_size=img_size, frames=frames, drop_path=drop_path)
    except ValueError as e:
        raise UserError(f"--frames {frames}, --size {img_size}: {e}") from None
    encoder = VideoViTEncoder(cfg)
    if pretrained.encoder is None:
        encoder.apply(init_weights)
    else:
        encoder.load_state_dict(pretrained.encoder, strict=True)
    return encoder


def build_classifier(pretrained: Pretrained, num_classes: int, *, size: str | None, frames: int, img_size: int,
                     drop_path: float, fc_drop: float, head_init_scale: float, seed: int) -> VideoClassifier:
    """The fine-tuning model; the head is drawn from `seed` alone, so a pre-trained run and its scratch twin start
    from the same head."""
    torch.manual_seed(seed)
    encoder = build_encoder(pretrained, size=size, frames=frames, img_size=img_size, drop_path=drop_path)
    torch.manual_seed(seed)
    return VideoClassifier(encoder, num_classes, fc_drop, head_init_scale)
