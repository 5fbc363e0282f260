"""Each transform moves content as its homography says; photometric and cutmix recursions behave as documented."""
from __future__ import annotations

import numpy as np
import pytest

from synth.motion import (TRANSFORMS, Motion, color_matrices, cutmix_boxes, frame_homographies,
                          frame_homographies_many, is_affine, sample_motion,
                          step_homography)
from synth.render import mixup, render_clip

SIZE, FRAMES = 96, 6
GEOMETRIC = [n for n, t in TRANSFORMS.items() if t.kind == "geometric"]


def dot_image(size: int = 200) -> np.ndarray:
    """Grey image with one bright marker blob near (but not at) the centre."""
    img = np.full((size, size, 3), 60, np.uint8)
    yy, xx = np.mgrid[:size, :size]
    img[(xx - 110) ** 2 + (yy - 95) ** 2 <= 9] = 255
    return img


def centroid(frame: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(frame[..., 0] > 160)
    w = frame[ys, xs, 0].astype(float)
    return np.array([np.average(xs, weights=w), np.average(ys, weights=w)])


def apply(h: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = h @ np.array([p[0], p[1], 1.0])
    return q[:2] / q[2]


@pytest.mark.parametrize("name", GEOMETRIC)
def test_marked_point_follows_the_step_homography(name: str) -> None:
    rng = np.random.default_rng(3)
    motion = sample_motion(rng, {name: 1.0})
    clip = render_clip(dot_image(), motion, frames=FRAMES, size=SIZE, max_fit_zoom=1.5)
    step = step_homography(motion, SIZE)
    start = centroid(clip[0])
    for t in range(1, FRAMES):
        expected = apply(np.linalg.matrix_power(step, t), start)
        assert np.linalg.norm(centroid(clip[t]) - expected) < 0.75, (name, t)


def test_geometric_transforms_really_move_content() -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:200, :200]
    stripes = np.repeat((127 + 120 * np.sin(xx / 5.0 + yy / 7.0)).astype(np.uint8)[..., None], 3, axis=2)
    for name in ("slide", "zoom", "affine", "perspective"):
        clip = render_clip(stripes, sample_motion(rng, {name: 1.0}), frames=FRAMES, size=SIZE)
        assert np.abs(clip[-1].astype(int) - clip[0]).mean() > 0.5, name


def test_frames_are_sampled_once_from_the_source_not_resampled() -> None:
    """Identity motion reproduces frame 0 exactly: no blur accumulates across frames."""
    clip = render_clip(dot_image(), Motion("identity", {}), frames=FRAMES, size=SIZE)
    assert all(np.array_equal(clip[0], f) for f in clip)


def test_framing_keeps_every_footprint_inside_the_source() -> None:
    motion = Motion("zoom", {"rate": 1.04, "direction": -1.0, "cx": 0.0, "cy": 0.0})  # zoom out needs room
    homs = frame_homographies(motion, (200, 300), SIZE, 16, max_fit_zoom=10.0)
    corners = np.array([[0, 0, 1], [SIZE - 1, 0, 1], [SIZE - 1, SIZE - 1, 1], [0, SIZE - 1, 1]], float).T
    pts = homs @ corners
    xy = pts[:, :2] / pts[:, 2:3]
    assert xy[:, 0].min() >= -0.5 and xy[:, 0].max() <= 299.5
    assert xy[:, 1].min() >= -0.5 and xy[:, 1].max() <= 199.5


def test_fade_out_darkens_geometrically_and_fade_in_ends_at_the_source() -> None:
    img = np.full((64, 64, 3), 200, np.uint8)
    out = render_clip(img, Motion("fade", {"gain": 0.9, "direction": 1.0}), frames=5, size=32)
    assert np.allclose(out[:, 5, 5, 0], 200 * 0.9 ** np.arange(5), atol=1.01)
    fade_in = render_clip(img, Motion("fade", {"gain": 0.9, "direction": -1.0}), frames=5, size=32)
    assert np.allclose(fade_in[:, 5, 5, 0], 200 * 0.9 ** np.arange(4, -1, -1), atol=1.01)


def test_color_jitter_is_the_power_of_one_step() -> None:
    motion = sample_motion(np.random.default_rng(1), {"color_jitter": 1.0})
    mats = color_matrices(motion, 4)
    assert np.allclose(mats[3], np.linalg.matrix_power(mats[1], 3))
    grey = render_clip(np.full((40, 40, 3), 128, np.uint8), Motion("color_jitter", {
        "brightness": 1.0, "contrast": 1.0, "saturation": 0.5, "hue": 0.1}), frames=3, size=16)
    assert np.abs(grey.astype(int) - 128).max() <= 1  # saturation and hue keep grey grey


def test_cutmix_trail_grows_with_the_recursion() -> None:
    motion = Motion("cutmix", {"box": 0.3, "speed": 0.1, "angle": 0.0})
    a, b = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)
    clip = render_clip(a, motion, frames=5, size=32, partner=b)
    pasted = (clip[..., 0] > 127).sum(axis=(1, 2))
    assert pasted[0] > 0 and all(np.diff(pasted) > 0)
    assert len(cutmix_boxes(motion, 32, 5)) == 5


def test_mixup_blends_every_frame_with_one_lambda() -> None:
    a = np.zeros((3, 8, 8, 3), np.uint8)
    b = np.full((3, 8, 8, 3), 200, np.uint8)
    assert np.all(mixup(a, b, 0.25) == 150)


def test_motion_draw_is_deterministic_and_respects_weights_and_ranges() -> None:
    draws = [sample_motion(np.random.default_rng([7, i]), {"zoom": 1.0, "affine": 1.0}) for i in range(200)]
    again = [sample_motion(np.random.default_rng([7, i]), {"zoom": 1.0, "affine": 1.0}) for i in range(200)]
    assert draws == again
    assert {d.transform for d in draws} == {"zoom", "affine"}
    custom = sample_motion(np.random.default_rng(0), {"zoom": 1.0}, {"zoom": {"rate": [1.1, 1.1]}})
    assert custom.params["rate"] == pytest.approx(1.1)
    with pytest.raises(KeyError):
        sample_motion(np.random.default_rng(0), {"zoom": 1.0}, {"zoom": {"speed": [1, 2]}})


def test_all_eight_paper_transforms_are_registered() -> None:
    assert set(TRANSFORMS) == {"identity", "slide", "zoom", "fade", "affine", "perspective", "color_jitter", "cutmix"}


def test_the_order_transforms_are_listed_in_does_not_change_the_draw() -> None:
    a = sample_motion(np.random.default_rng(5), {"zoom": 1.0, "affine": 2.0})
    b = sample_motion(np.random.default_rng(5), {"affine": 2.0, "zoom": 1.0})
    assert a == b


def test_homographies_of_many_layers_are_each_layers_own_to_the_bit() -> None:
    """The loader packs a batch with frame_homographies_many; the cv2 renderer takes one layer at a time."""
    rng = np.random.default_rng(0)
    motions = [sample_motion(rng, {name: 1.0 for name in TRANSFORMS}) for _ in range(24)]
    shapes = [(int(rng.integers(8, 900)), int(rng.integers(8, 900))) for _ in motions]
    many = frame_homographies_many(motions, shapes, SIZE, 12, 1.5)
    assert many.shape == (24, 12, 3, 3)
    for motion, shape, got in zip(motions, shapes, many):
        assert np.array_equal(got, frame_homographies(motion, shape, SIZE, 12, 1.5))


def test_is_affine_is_np_allclose_of_the_last_row() -> None:
    homs = np.tile(np.eye(3), (4, 1, 1))
    for row, delta in [(0, 0.0), (0, 9e-9), (0, 2e-8), (2, 1e-5), (2, 1.2e-5), (1, np.nan)]:
        homs[2, 2, row] = (1.0 if row == 2 else 0.0) + delta
        assert is_affine(homs) == np.allclose(homs[:, 2], [0, 0, 1])
