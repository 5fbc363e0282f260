"""synthmotion: deterministic, balanced, photo-disjoint splits whose paired classes only frame order tells apart."""
from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from eval.synthmotion import (ANGLE, CLASSES, DIAMETER, ORDER_PAIRS, SPLITS, X, Y, SynthMotion, SynthMotionConfig,
                              background_frame, clip_spec, make_clip, render, split_photos, trajectory,
                              write_synthmotion)
from synth.errors import UserError

CFG = SynthMotionConfig(train_per_class=3, test_per_class=2)


def frame_features(states: np.ndarray) -> np.ndarray:
    """What one frame shows of the object's state: position on the (wrapped) frame, size, angle on the circle."""
    return np.stack([states[..., X] % 1, states[..., Y] % 1, states[..., DIAMETER], states[..., ANGLE] % 360], -1)


def best_threshold_accuracy(a: np.ndarray, b: np.ndarray) -> float:
    """Accuracy of the best one-threshold classifier of a vs b (equal counts): 0.5 + half the KS distance."""
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return 0.5 + np.abs(cdf_a - cdf_b).max() / 2


def draws(cls: str, n: int, frames: int = 16, first_seed: int = 0) -> np.ndarray:
    return np.stack([trajectory(cls, np.random.default_rng(first_seed + i), frames) for i in range(n)])


def test_a_clip_is_the_same_uint8_bytes_on_every_call() -> None:
    clip, label = make_clip(CFG, "train", 5)
    again, label_again = make_clip(CFG, "train", 5)
    assert clip.dtype == np.uint8 and clip.shape == (16, 64, 64, 3)
    assert clip.tobytes() == again.tobytes() and label == label_again == 5
    assert make_clip(CFG, "train", 17)[0].tobytes() != clip.tobytes()
    assert make_clip(dataclasses.replace(CFG, seed=1), "train", 5)[0].tobytes() != clip.tobytes()


def test_dataset_yields_clip_label_index_triples() -> None:
    data = SynthMotion(SynthMotionConfig(frames=8, size=32, test_per_class=1), "test")
    assert len(data) == len(CLASSES)
    clip, label, index = data[3]
    assert clip.dtype == torch.uint8 and tuple(clip.shape) == (8, 32, 32, 3)
    assert (label, index) == (3, 3)
    with pytest.raises(IndexError):
        data[len(data)]


def test_every_split_is_exactly_class_balanced() -> None:
    for split in SPLITS:
        labels = [clip_spec(CFG, split, i).label for i in range(CFG.count(split))]
        per_class = CFG.train_per_class if split == "train" else CFG.test_per_class
        assert np.bincount(labels, minlength=len(CLASSES)).tolist() == [per_class] * len(CLASSES)


def test_train_and_test_never_share_a_photo() -> None:
    train, test = split_photos("train"), split_photos("test")
    assert train and test and not train & test
    for split, pool in (("train", train), ("test", test)):
        used = set().union(*(clip_spec(CFG, split, i).photos for i in range(CFG.count(split))))
        assert used <= pool


@pytest.mark.parametrize("a, b", ORDER_PAIRS)
def test_partners_show_the_same_frames_in_another_order(a: str, b: str) -> None:
    for seed in range(20):
        first, second = (trajectory(c, np.random.default_rng(seed), 16) for c in (a, b))
        assert not np.allclose(first, second)
        assert np.allclose(first[np.lexsort(first.T)], second[np.lexsort(second.T)])


def test_one_frame_at_a_random_index_does_not_tell_partners_apart() -> None:
    n, rng = 2000, np.random.default_rng(0)
    pick = rng.integers(16, size=n)
    for a, b in ORDER_PAIRS:
        fa = frame_features(draws(a, n)[np.arange(n), pick])
        fb = frame_features(draws(b, n, first_seed=n)[np.arange(n), pick])
        for f in range(fa.shape[1]):
            assert best_threshold_accuracy(fa[:, f], fb[:, f]) < 0.55, (a, b, f)


def test_one_frame_at_a_known_index_does_not_tell_partners_apart_except_by_size() -> None:
    """Wrapped positions and circular angles are uniform at every index; a size cannot wrap (approach/recede)."""
    n = 2000
    for a, b in ORDER_PAIRS:
        fa, fb = frame_features(draws(a, n)), frame_features(draws(b, n, first_seed=n))
        scaling = "approach" in (a, b)
        for f in (0, 1, 3) if scaling else range(4):
            worst = max(best_threshold_accuracy(fa[:, t, f], fb[:, t, f]) for t in range(16))
            assert worst < 0.55, (a, b, f)
        if scaling:
            assert max(best_threshold_accuracy(fa[:, t, 2], fb[:, t, 2]) for t in range(16)) < 0.8


# Positive for one class of each pair, negative for its partner (angles counter-clockwise, y grows down).
SIGNATURES = {
    "move_left": lambda s: s[0, X] - s[-1, X],
    "move_up": lambda s: s[0, Y] - s[-1, Y],
    "approach": lambda s: s[-1, DIAMETER] - s[0, DIAMETER],
    "rotate_cw": lambda s: s[0, ANGLE] - s[-1, ANGLE],
    "left_then_right": lambda s: s[0, X] - s[len(s) // 2, X],
    "speed_up": lambda s: abs(s[-1, X] - s[-2, X]) - abs(s[1, X] - s[0, X]),
}


@pytest.mark.parametrize("a, b", ORDER_PAIRS)
def test_the_order_of_frames_names_the_class(a: str, b: str) -> None:
    positive, negative = (a, b) if a in SIGNATURES else (b, a)
    signature = SIGNATURES[positive]
    assert all(signature(s) > 0 for s in draws(positive, 200))
    assert all(signature(s) < 0 for s in draws(negative, 200))


def test_the_drawn_object_sits_at_its_state() -> None:
    spec = clip_spec(CFG, "train", 0)
    states = np.array([[0.3 + 0.05 * t, 0.6, 0.4, 0.0] for t in range(8)])
    spec = dataclasses.replace(spec, states=states, wrap=False)
    clip, background = render(spec, 64).astype(float), background_frame(spec, 64)
    for t, (x, y, _, _) in enumerate(states):
        ys, xs = np.nonzero(np.abs(clip[t] - background).sum(axis=2) > 30)
        assert abs((xs.mean() + 0.5) / 64 - x) < 1.5 / 64 and abs((ys.mean() + 0.5) / 64 - y) < 1.5 / 64


def test_a_positive_angle_turns_the_object_counter_clockwise_on_screen() -> None:
    spec = next(s for s in (clip_spec(CFG, "train", i) for i in range(CFG.count("train"))) if s.cut == "rocket")
    spec = dataclasses.replace(spec, states=np.array([[0.5, 0.5, 0.8, 30.0]]), wrap=False, flip_object=False)
    ys, xs = np.nonzero(np.abs(render(spec, 64)[0].astype(float) - background_frame(spec, 64)).sum(axis=2) > 30)
    assert np.cov(xs, ys)[0, 1] > 0  # the nose (small y) has moved left (small x)


def test_every_class_visibly_moves() -> None:
    for label in range(len(CLASSES)):
        clip = make_clip(CFG, "test", label)[0].astype(np.int16)
        assert not np.array_equal(clip[0], clip[-1]), CLASSES[label]
        assert np.abs(clip - clip[0]).mean(axis=(1, 2, 3)).max() > 0.3, CLASSES[label]


def test_written_tree_is_class_folders_of_mp4s_and_a_description(tmp_path: Path) -> None:
    cfg = SynthMotionConfig(frames=8, size=32, train_per_class=1, test_per_class=1)
    root = write_synthmotion(tmp_path / "sm", cfg)
    meta = json.loads((root / "synthmotion.json").read_text())
    assert meta["classes"] == CLASSES == sorted(CLASSES)  # folder readers number sorted class folders
    assert "proxy" in meta["note"]
    assert not set(meta["splits"]["train"]["photos"]) & set(meta["splits"]["test"]["photos"])
    for split in SPLITS:
        files = sorted((root / split).glob("*/*.mp4"))
        assert sorted(p.parent.name for p in files) == sorted(CLASSES)
        for path in files[:3]:
            with av.open(io.BytesIO(path.read_bytes())) as container:
                frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
            clip, label = make_clip(cfg, split, int(path.stem))
            assert frames.shape == (8, 32, 32, 3) and CLASSES[label] == path.parent.name
            assert np.abs(frames.astype(int) - clip).mean() < 8


def test_a_written_tree_is_kept_for_its_config_and_never_mixed_with_another(tmp_path: Path) -> None:
    cfg = SynthMotionConfig(frames=4, size=16, train_per_class=1, test_per_class=1)
    root = write_synthmotion(tmp_path / "sm", cfg)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert write_synthmotion(root, cfg) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
    with pytest.raises(UserError, match="not empty"):
        write_synthmotion(root, dataclasses.replace(cfg, seed=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm"]


def test_bad_config_or_split_is_a_user_error() -> None:
    with pytest.raises(UserError, match="size"):
        SynthMotion(SynthMotionConfig(size=33), "train")
    with pytest.raises(UserError, match="split"):
        make_clip(CFG, "val", 0)
