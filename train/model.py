"""VideoMAE (Tong et al. 2022): a ViT encoder on the visible cubes, a narrow decoder that reconstructs the masked ones.

Parameter names follow the official MCG-NJU/VideoMAE `modeling_pretrain.py`, so its checkpoints load as they are
(see train/convert.py). Videos are (B, C, T, H, W) floats normalised with the ImageNet mean/std; masks are boolean
(B, N) with True = masked, N = T/tubelet * H/patch * W/patch tokens in (t, h, w) order, and every sample masks the
same number of tokens (train/masking.py makes such masks).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from timm.layers import DropPath, Mlp, trunc_normal_
from torch import Tensor, nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LN_EPS = 1e-6  # official VideoMAE LayerNorm eps, encoder and decoder alike


@dataclass(frozen=True)
class VideoMAEConfig:
    """Model shape; the defaults are VideoMAE ViT-B/16 on 16 x 224 x 224 clips."""

    img_size: int = 224
    frames: int = 16
    patch: int = 16
    tubelet: int = 2
    in_chans: int = 3
    embed_dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    decoder_dim: int = 384
    decoder_depth: int = 4
    decoder_heads: int = 6
    qkv_bias: bool = True
    drop_path: float = 0.0
    norm_pix: bool = True

    def __post_init__(self) -> None:
        if self.img_size % self.patch or self.frames % self.tubelet:
            raise ValueError(
                f"img_size {self.img_size} must be a multiple of patch {self.patch} and "
                f"frames {self.frames} a multiple of tubelet {self.tubelet}"
            )
        if self.embed_dim % self.heads or self.decoder_dim % self.decoder_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} / heads {self.heads} and decoder_dim {self.decoder_dim} / "
                f"decoder_heads {self.decoder_heads} must divide evenly"
            )

    @property
    def grid(self) -> tuple[int, int, int]:
        """Tokens along (time, height, width)."""
        side = self.img_size // self.patch
        return self.frames // self.tubelet, side, side

    @property
    def num_patches(self) -> int:
        t, h, w = self.grid
        return t * h * w

    @property
    def patch_dim(self) -> int:
        """Pixels in one cube: tubelet * patch * patch * channels."""
        return self.tubelet * self.patch * self.patch * self.in_chans


MODEL_SIZES: dict[str, VideoMAEConfig] = {
    "tiny": VideoMAEConfig(embed_dim=192, depth=4, heads=3, decoder_dim=128, decoder_depth=2, decoder_heads=2),
    "small": VideoMAEConfig(embed_dim=384, depth=12, heads=6, decoder_dim=192, decoder_depth=4, decoder_heads=3),
    "base": VideoMAEConfig(embed_dim=768, depth=12, heads=12, decoder_dim=384, decoder_depth=4, decoder_heads=6),
    "large": VideoMAEConfig(embed_dim=1024, depth=24, heads=16, decoder_dim=512, decoder_depth=4, decoder_heads=8),
}


def sinusoid_table(n_position: int, dim: int) -> Tensor:
    """Fixed 1D sin-cos position embeddings (1, n_position, dim), as in official VideoMAE (computed in float64)."""
    position = torch.arange(n_position, dtype=torch.float64)[:, None]
    exponent = 2 * (torch.arange(dim) // 2) / dim
    angle = position / torch.pow(10000.0, exponent.to(torch.float64))  # (n_position, dim)
    table = torch.empty_like(angle)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.float().unsqueeze(0)


class Attention(nn.Module):
    """Multi-head self-attention with a q and a v bias but no k bias (as official VideoMAE), through SDPA."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.v_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        B, N, C = x.shape
        bias = None
        if self.q_bias is not None:
            bias = torch.cat((self.q_bias, torch.zeros_like(self.q_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        q, k, v = qkv.view(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, heads, N, C/heads)
        x = F.scaled_dot_product_attention(q, k, v)
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, qkv_bias: bool, drop_path: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def make_blocks(dim: int, depth: int, heads: int, cfg: VideoMAEConfig) -> nn.ModuleList:
    """`depth` blocks with stochastic depth rising linearly from 0 to cfg.drop_path."""
    rates = torch.linspace(0, cfg.drop_path, depth).tolist()
    return nn.ModuleList(Block(dim, heads, cfg.mlp_ratio, cfg.qkv_bias, rate) for rate in rates)


def cubes(videos: Tensor, tubelet: int, patch: int) -> Tensor:
    """(B, C, T, H, W) -> (B, N, C, tubelet * patch * patch): the pixels of each cube, per channel, tokens in
    (t, h, w) order. Flattened, a cube is laid out like a Conv3d kernel (C, t, p, p)."""
    B, C, T, H, W = videos.shape
    x = videos.reshape(B, C, T // tubelet, tubelet, H // patch, patch, W // patch, patch)
    x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # (B, T/t, H/p, W/p, C, t, p, p)
    return x.reshape(B, -1, C, tubelet * patch * patch)


class CubeEmbed(nn.Module):
    """Cube embedding: a Conv3d with stride = kernel = tubelet x patch x patch, i.e. one linear map per cube.

    Applied as that linear map to flattened cubes, so that the encoder embeds only the visible ones.
    """

    def __init__(self, cfg: VideoMAEConfig):
        super().__init__()
        size = (cfg.tubelet, cfg.patch, cfg.patch)
        self.proj = nn.Conv3d(cfg.in_chans, cfg.embed_dim, kernel_size=size, stride=size)

    def forward(self, cubes: Tensor) -> Tensor:
        return F.linear(cubes, self.proj.weight.flatten(1), self.proj.bias)  # (B, n, C*t*p*p) -> (B, n, D)


class VideoViTEncoder(nn.Module):
    """The video ViT: cube embedding, fixed position embeddings, blocks and a final norm.

    Shared by pre-training (visible tokens only) and fine-tuning (all tokens, `forward_features`).
    """

    def __init__(self, cfg: VideoMAEConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = CubeEmbed(cfg)
        self.register_buffer("pos_embed", sinusoid_table(cfg.num_patches, cfg.embed_dim), persistent=False)
        self.blocks = make_blocks(cfg.embed_dim, cfg.depth, cfg.heads, cfg)
        self.norm = nn.LayerNorm(cfg.embed_dim, eps=LN_EPS)

    def forward_features(self, videos: Tensor, mask: Tensor | None = None) -> Tensor:
        """Encoded tokens (B, N, D), or only the visible ones (B, N_vis, D) in (t, h, w) order when given a mask."""
        check_videos(videos, self.cfg)
        x = cubes(videos, self.cfg.tubelet, self.cfg.patch).flatten(2)  # (B, N, C*t*p*p)
        pos = self.pos_embed.expand(x.shape[0], -1, -1)  # (B, N, D)
        if mask is not None:
            x = x[~mask].reshape(x.shape[0], -1, x.shape[-1])  # (B, N_vis, C*t*p*p)
            pos = pos[~mask].reshape(x.shape[0], -1, pos.shape[-1])
        x = self.patch_embed(x)
        x = x + pos.to(x.dtype)  # (B, N_vis, D)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, videos: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.forward_features(videos, mask)


class VideoMAEDecoder(nn.Module):
    """Narrow transformer over visible + mask tokens; predicts the pixels of the last `n_pred` tokens."""

    def __init__(self, cfg: VideoMAEConfig):
        super().__init__()
        self.blocks = make_blocks(cfg.decoder_dim, cfg.decoder_depth, cfg.decoder_heads, cfg)
        self.norm = nn.LayerNorm(cfg.decoder_dim, eps=LN_EPS)
        self.head = nn.Linear(cfg.decoder_dim, cfg.patch_dim)

    def forward(self, x: Tensor, n_pred: int) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, -n_pred:]))  # (B, n_pred, tubelet * patch * patch * C)


class VideoMAE(nn.Module):
    """VideoMAE pre-training model: encoder on visible cubes, decoder on visible + mask tokens, MSE on masked cubes.

    With VideoMAE V2 dual masking, `decoder_mask` (a subset of `mask`) names the masked tokens the decoder
    reconstructs; the others never enter the decoder and carry no loss.
    """

    def __init__(self, cfg: VideoMAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = VideoViTEncoder(cfg)
        self.encoder_to_decoder = nn.Linear(cfg.embed_dim, cfg.decoder_dim, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.decoder_dim))
        self.register_buffer("decoder_pos_embed", sinusoid_table(cfg.num_patches, cfg.decoder_dim), persistent=False)
        self.decoder = VideoMAEDecoder(cfg)
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(3, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(3, 1), persistent=False)
        self.apply(init_weights)
        trunc_normal_(self.mask_token, std=0.02, a=-0.02, b=0.02)  # official truncates at one std

    def patchify(self, videos: Tensor) -> Tensor:
        """(B, C, T, H, W) -> (B, N, tubelet * patch * patch * C), channel fastest: the layout of `pred`."""
        return cubes(videos, self.cfg.tubelet, self.cfg.patch).transpose(-1, -2).flatten(2)

    @torch.no_grad()
    def target(self, videos: Tensor, target_mask: Tensor) -> Tensor:
        """Pixels in [0, 1] of the cubes under target_mask (B, N_target, P) in `patchify` layout, per-cube
        normalised if cfg.norm_pix.

        norm_pix matches official VideoMAE: mean and unbiased std over each cube's pixels, per channel, 1e-6 added
        to the std. Only the target cubes are gathered, and the statistics run over contiguous memory.
        """
        B = videos.shape[0]
        x = cubes(videos, self.cfg.tubelet, self.cfg.patch)[target_mask]  # (B * N_target, C, t*p*p)
        if self.cfg.in_chans == 3:
            x = x.mul_(self.pixel_std).add_(self.pixel_mean)  # back to [0, 1]; x is a fresh gather, so in place
        if self.cfg.norm_pix:
            x = x.sub_(x.mean(dim=-1, keepdim=True))
            std = torch.linalg.vector_norm(x, dim=-1, keepdim=True) / math.sqrt(x.shape[-1] - 1)
            x = x.div_(std.add_(1e-6))
        return x.transpose(-1, -2).reshape(B, -1, self.cfg.patch_dim)  # (B, N_target, t*p*p*C)

    def forward_encoder(self, videos: Tensor, mask: Tensor) -> Tensor:
        return self.encoder(videos, mask)  # (B, N_vis, D)

    def forward_decoder(self, latent: Tensor, mask: Tensor, decoder_mask: Tensor | None = None) -> Tensor:
        """Predicted cubes (B, N_target, P) for the tokens under decoder_mask (default: all masked), in (t, h, w) order.

        Visible tokens keep their encoder order and mask tokens are appended; rather than unshuffling, each token
        gets its own position embedding (attention does not care about order).
        """
        x = self.encoder_to_decoder(latent)  # (B, N_vis, D_dec)
        B, _, D = x.shape
        target_mask = mask if decoder_mask is None else decoder_mask
        pos = self.decoder_pos_embed.to(x.dtype).expand(B, -1, -1)  # (B, N, D_dec)
        pos_visible = pos[~mask].reshape(B, -1, D)
        pos_target = pos[target_mask].reshape(B, -1, D)
        x = torch.cat([x + pos_visible, self.mask_token + pos_target], dim=1)  # (B, N_vis + N_target, D_dec)
        return self.decoder(x, pos_target.shape[1])

    def loss(self, videos: Tensor, pred: Tensor, target_mask: Tensor) -> Tensor:
        """Mean squared error over the target cubes only (visible cubes carry no loss)."""
        return F.mse_loss(pred.float(), self.target(videos, target_mask).float())

    def forward(
        self, videos: Tensor, mask: Tensor, decoder_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Returns (loss, pred (B, N_target, P), target_mask (B, N)): the tokens pred covers, True = predicted."""
        latent = self.forward_encoder(videos, mask)
        pred = self.forward_decoder(latent, mask, decoder_mask)
        target_mask = mask if decoder_mask is None else decoder_mask
        return self.loss(videos, pred, target_mask), pred, target_mask

    def forward_features(self, videos: Tensor) -> Tensor:
        """The encoder alone on all tokens (B, N, D), as fine-tuning sees it."""
        return self.encoder.forward_features(videos)


def init_weights(module: nn.Module) -> None:
    """Official VideoMAE init: xavier-uniform linears with zero bias, unit LayerNorms; Conv3d keeps torch's default."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def check_videos(videos: Tensor, cfg: VideoMAEConfig) -> None:
    expected = (cfg.in_chans, cfg.frames, cfg.img_size, cfg.img_size)
    if videos.dim() != 5 or tuple(videos.shape[1:]) != expected:
        raise ValueError(f"videos must be (B, C, T, H, W) = (B, *{expected}), got {tuple(videos.shape)}")


def create_model(size: str, **overrides) -> VideoMAE:
    """VideoMAE of a registered size ('tiny', 'small', 'base', 'large'), with config fields overridden by name."""
    if size not in MODEL_SIZES:
        raise ValueError(f"unknown model size {size!r}; choose one of {', '.join(MODEL_SIZES)}")
    return VideoMAE(replace(MODEL_SIZES[size], **overrides))
