"""Device rendering against the cv2 renderer: every transform, Mixup, mixed image sizes, every border mode, and a
check that the tolerance catches real bugs.

Tolerance (per clip, uint8 levels): mean |device - cpu| <= 0.02, max <= 2, and at most 0.5% of values differ at all.
Both renderers sample bilinearly in float and round at the same steps, so differences are roundings flipped by
float32 order of operations (measured: mean <= 6e-4, max 1, at most 0.06% of values, Mixup the most); a one-level
flip before a colour step can grow by its gain, hence max 2. A half-pixel shift, a transposed homography, a wrong
border, a swapped Mixup weight or a colour one frame late exceeds it many times over (test_tolerance_catches_bugs).
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from synth.motion import TRANSFORMS, Motion, sample_motion
from synth.render import mixup, prepare_source, render_rgbx, warp_frames
from train import device_render
from train.device_render import BORDERS, ClipSpec, Layer, RenderBatch, pack, render, render_specs

FRAMES, SIZE = 8, 32
MEAN_TOL, MAX_TOL, SHARE_TOL = 0.02, 2, 0.005
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
STRONG_ZOOM_OUT = {"zoom": {"rate": [1.04, 1.045], "direction": [-1.0, -0.5]}}


def image(h: int, w: int, seed: int) -> np.ndarray:
    """Gradients and a ripple (so framing errors show) plus grain (so sub-pixel shifts show): (h, w, 3) uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    smooth = np.stack([255 * x / w, 255 * y / h, 127 + 90 * np.sin(x / 4 + y / 6)], -1)
    return np.clip(smooth + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def motion(name: str, seed: int, ranges: dict | None = None) -> Motion:
    return sample_motion(np.random.default_rng(seed), {name: 1.0}, ranges)


class Case:
    """One layer as both renderers take it: the raw image, its motion and (cutmix) the raw partner image."""

    def __init__(self, rgb: np.ndarray, motion: Motion, partner: np.ndarray | None = None) -> None:
        self.rgb, self.motion = rgb, motion
        self.partner = partner if TRANSFORMS[motion.transform].kind == "cutmix" else None

    def layer(self, size: int, border: str, max_fit_zoom: float) -> Layer:
        still = None
        if self.partner is not None:
            still = warp_frames(prepare_source(self.partner, size), Motion("identity", {}), frames=1, size=size,
                                border=border, max_fit_zoom=max_fit_zoom)[0, ..., :3]
        return Layer(prepare_source(self.rgb, size)[..., :3], self.motion, still)

    def cpu(self, frames: int, size: int, border: str, max_fit_zoom: float) -> np.ndarray:
        return render_rgbx(self.rgb, self.motion, frames=frames, size=size, border=border,
                           max_fit_zoom=max_fit_zoom, partner=self.partner)


Clip = tuple[Case, ...] | tuple[Case, Case, float]  # one case, or two and the Mixup lambda


def specs_of(clips: list[Clip], size: int, border: str, max_fit_zoom: float) -> list[ClipSpec]:
    return [ClipSpec((c[0].layer(size, border, max_fit_zoom),)) if len(c) == 1 else
            ClipSpec((c[0].layer(size, border, max_fit_zoom), c[1].layer(size, border, max_fit_zoom)), c[2])
            for c in clips]


def cpu_clips(clips: list[Clip], frames: int, size: int, border: str, max_fit_zoom: float) -> np.ndarray:
    """The reference: synth.render's clips, Mixup as synth.sample applies it -> (B, T, S, S, 3) uint8."""
    out = []
    for c in clips:
        clip = c[0].cpu(frames, size, border, max_fit_zoom)
        if len(c) == 3:
            clip = mixup(clip, c[1].cpu(frames, size, border, max_fit_zoom), c[2])
        out.append(clip[..., :3])
    return np.stack(out)


def assert_close(got: torch.Tensor, want: np.ndarray) -> None:
    """The stated tolerance, clip by clip."""
    assert got.shape == want.shape and got.dtype == torch.uint8
    diff = np.abs(got.cpu().numpy().astype(np.int16) - want)
    for b, d in enumerate(diff):
        assert d.mean() <= MEAN_TOL and d.max() <= MAX_TOL and (d > 0).mean() <= SHARE_TOL, (
            f"clip {b}: mean {d.mean():.4f}, max {d.max()}, differing {(d > 0).mean():.4%}")


def check(clips: list[Clip], *, frames: int = FRAMES, size: int = SIZE, border: str = "reflect",
          max_fit_zoom: float = 1.5, device: str = "cpu") -> torch.Tensor:
    got = render_specs(specs_of(clips, size, border, max_fit_zoom), frames=frames, size=size, border=border,
                       max_fit_zoom=max_fit_zoom, device=device)
    assert got.device.type == torch.device(device).type
    assert_close(got, cpu_clips(clips, frames, size, border, max_fit_zoom))
    return got


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_transform_matches_cpu(name: str, device: str) -> None:
    """Square, landscape and portrait sources in one batch, each with its own draw of the transform."""
    sizes = [(40, 40), (36, 60), (70, 33)]
    check([(Case(image(h, w, i), motion(name, i), image(50, 45, 10 + i)),) for i, (h, w) in enumerate(sizes)],
          device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_mixup_matches_cpu(device: str) -> None:
    """Two Mixup clips (one with a cutmix layer, one photometric) beside a single-layer clip."""
    check([(Case(image(40, 52, 0), motion("affine", 0)), Case(image(48, 40, 1), motion("cutmix", 1), image(40, 40, 2)),
            0.3),
           (Case(image(33, 33, 3), motion("slide", 3)),),
           (Case(image(44, 36, 4), motion("perspective", 4)), Case(image(40, 60, 5), motion("color_jitter", 5)),
            0.71)], device=device)


@pytest.mark.parametrize("border", BORDERS)
def test_mixed_sizes_and_border_fill(border: str) -> None:
    """A tiny source, a large one (area-reduced by prepare_source) and odd aspect ratios in one batch; without the
    fit zoom, a strong zoom-out and a slide sample outside their sources, so the border mode decides pixels."""
    clips = [(Case(image(12, 19, 0), motion("zoom", 0, STRONG_ZOOM_OUT)),),
             (Case(image(120, 170, 1), motion("perspective", 1)),),
             (Case(image(25, 64, 2), motion("slide", 2)), Case(image(64, 21, 3), motion("zoom", 3, STRONG_ZOOM_OUT)),
              0.5),
             (Case(image(1, 1, 4), motion("affine", 4)),)]
    check(clips, border=border, max_fit_zoom=1.0)
    other = BORDERS[(BORDERS.index(border) + 1) % len(BORDERS)]
    for clip in clips[0], clips[2]:
        assert not np.array_equal(cpu_clips([clip], FRAMES, SIZE, border, 1.0),
                                  cpu_clips([clip], FRAMES, SIZE, other, 1.0)), "the border fill went unused"


def test_full_size() -> None:
    """224 px from a source prepare_source area-reduces, under perspective Mixed with a zoom."""
    check([(Case(image(600, 800, 0), motion("perspective", 0)), Case(image(300, 420, 1), motion("zoom", 1)), 0.6)],
          frames=4, size=224)


def test_frame_chunks_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering a frame at a time (cutmix trails crossing chunks) gives the same bytes as all frames at once."""
    clips = [(Case(image(40, 50, 0), motion("cutmix", 0), image(45, 40, 1)), Case(image(40, 40, 2), motion("fade", 2)),
              0.4)]
    batch = pack(specs_of(clips, SIZE, "reflect", 1.5), frames=FRAMES, size=SIZE)
    whole = render(batch, "cpu")
    monkeypatch.setattr(device_render, "CHUNK_PIXELS", 1)
    assert torch.equal(render(batch, "cpu"), whole)


def test_batch_crosses_processes() -> None:
    """Only tensors and ints inside, so DataLoader workers can send it and pin_memory can pin it."""
    batch = pack(specs_of([(Case(image(30, 40, 0), motion("cutmix", 0), image(40, 30, 1)),)], SIZE, "reflect", 1.5),
                 frames=FRAMES, size=SIZE)
    assert all(isinstance(x, (torch.Tensor, int)) for x in batch)
    again = pickle.loads(pickle.dumps(batch))
    assert torch.equal(render(again, "cpu"), render(batch, "cpu"))


def _shift_half_pixel(b: RenderBatch) -> RenderBatch:
    homs = b.homographies.clone()
    homs[..., 0, :] += 0.5 * homs[..., 2, :]  # source x + 0.5 for every output pixel, projective ones too
    return b._replace(homographies=homs)


def _transpose(b: RenderBatch) -> RenderBatch:
    return b._replace(homographies=b.homographies.transpose(-1, -2).contiguous())


def _next_border(b: RenderBatch) -> RenderBatch:
    return b._replace(border=(b.border + 1) % len(BORDERS))


def _swap_lambda(b: RenderBatch) -> RenderBatch:
    clips = len(b.weights) - len(b.mix_clip)
    w = b.weights.clone()
    w[b.mix_clip], w[clips:] = b.weights[clips:], b.weights[b.mix_clip]
    return b._replace(weights=w)


def _colour_frame_late(b: RenderBatch) -> RenderBatch:
    return b._replace(colors=torch.cat([b.colors[:, :1], b.colors[:, :-1]], dim=1))


@pytest.mark.parametrize("bug", [_shift_half_pixel, _transpose, _next_border, _swap_lambda, _colour_frame_late])
def test_tolerance_catches_bugs(bug) -> None:
    """Each deliberate error, applied to an otherwise correct batch, fails the tolerance."""
    clips = [(Case(image(14, 22, 0), motion("zoom", 0, STRONG_ZOOM_OUT)), Case(image(40, 48, 1), motion("fade", 1)),
              0.3)]
    specs = specs_of(clips, SIZE, "reflect", 1.0)
    want = cpu_clips(clips, FRAMES, SIZE, "reflect", 1.0)
    batch = pack(specs, frames=FRAMES, size=SIZE, max_fit_zoom=1.0)
    assert_close(render(batch, "cpu"), want)
    with pytest.raises(AssertionError):
        assert_close(render(bug(batch), "cpu"), want)


def test_stills_as_synth_render_takes_them() -> None:
    """A 4-channel (RGBX) still works like its RGB part; a still on other motion is ignored, as synth.render does."""
    rgb, partner = image(30, 40, 0), Case(image(40, 30, 1), motion("cutmix", 1), image(36, 36, 2))
    layer = partner.layer(SIZE, "reflect", 1.5)
    rgbx = np.concatenate([layer.still, np.full((SIZE, SIZE, 1), 255, np.uint8)], -1)
    slide = motion("slide", 3)
    plain = render_specs([ClipSpec((layer,)), ClipSpec((Layer(rgb, slide),))], frames=FRAMES, size=SIZE)
    odd = render_specs([ClipSpec((Layer(layer.image, layer.motion, rgbx),)), ClipSpec((Layer(rgb, slide, rgbx),))],
                       frames=FRAMES, size=SIZE)
    assert torch.equal(plain, odd)


def test_mistakes_are_refused() -> None:
    rgb = image(20, 20, 0)
    with pytest.raises(ValueError, match="still"):
        Layer(rgb, motion("cutmix", 0))
    with pytest.raises(ValueError, match="lam"):
        ClipSpec((Layer(rgb, motion("slide", 0)),), lam=0.5)
    with pytest.raises(ValueError, match="still must be"):
        pack([ClipSpec((Layer(rgb, motion("cutmix", 0), still=rgb),))], frames=2, size=8)
    with pytest.raises(ValueError, match="border"):
        pack([ClipSpec((Layer(rgb, motion("slide", 0)),))], frames=2, size=8, border="wrap")
