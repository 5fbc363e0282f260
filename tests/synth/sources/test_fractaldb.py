"""FractalDB source: deterministic, labelled, paper-faithful category search, user errors, picklable."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from synth.errors import UserError
from synth.sources.base import ImageSource
from synth.sources.fractaldb import DEFAULT_FILL_THRESHOLD, FractalDBSource, category_ifs, filling_rate

# Small images and few points keep each load ~1 ms; the category search (~0.3 s each) is cached across tests,
# so every test sticks to seed 0, categories 0..3, the default threshold.
SMALL = dict(categories=4, instances=6, size=64, points=20_000)


def occupancy(rgb: np.ndarray, block: int = 4) -> np.ndarray:
    """Fraction of lit pixels per block x block cell: a coarse shape descriptor that ignores patch noise."""
    lit = rgb[..., 0] > 0
    h, w = lit.shape
    return lit.reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def test_is_an_image_source_with_the_documented_shape() -> None:
    src = FractalDBSource(**SMALL)
    image = src.load(7)
    assert isinstance(src, ImageSource)
    assert src.name == "fractal"
    assert len(src) == 24
    assert image.rgb.shape == (64, 64, 3)
    assert image.rgb.dtype == np.uint8
    assert image.rgb.flags.c_contiguous
    assert image.source_id == "fractal/c0001/i0001"


def test_default_size_is_256() -> None:
    assert FractalDBSource(categories=1).load(0).rgb.shape == (256, 256, 3)


def test_label_is_the_category() -> None:
    src = FractalDBSource(**SMALL)
    assert [src.load(i).label for i in range(len(src))] == [i // 6 for i in range(24)]


def test_same_parameters_give_identical_images_and_hashes() -> None:
    a, b = FractalDBSource(**SMALL).load(9), FractalDBSource(**SMALL).load(9)
    assert np.array_equal(a.rgb, b.rgb)
    assert a.content_hash == b.content_hash
    assert FractalDBSource(**SMALL).fingerprint() == FractalDBSource(**SMALL).fingerprint()


def test_a_different_seed_gives_a_different_image_and_fingerprint() -> None:
    ours, theirs = FractalDBSource(**SMALL), FractalDBSource(**{**SMALL, "seed": 1})
    assert not np.array_equal(ours.load(0).rgb, theirs.load(0).rgb)
    assert ours.load(0).content_hash != theirs.load(0).content_hash
    assert ours.fingerprint() != theirs.fingerprint()


def test_category_does_not_depend_on_other_categories() -> None:
    """Category 3 of a 4-category source is category 3 of a 100-category one (Ray workers load any index)."""
    small, large = FractalDBSource(**SMALL), FractalDBSource(**{**SMALL, "categories": 100})
    assert np.array_equal(small.load(3 * 6 + 2).rgb, large.load(3 * 6 + 2).rgb)


@pytest.mark.parametrize("category", range(4))
def test_categories_pass_the_filling_rate(category: int) -> None:
    assert filling_rate(category_ifs(0, category, DEFAULT_FILL_THRESHOLD)) >= DEFAULT_FILL_THRESHOLD
    rendered = FractalDBSource(categories=4).load(category * 10).rgb  # instance 0 is the category itself
    assert np.count_nonzero(rendered[..., 0]) / rendered[..., 0].size >= DEFAULT_FILL_THRESHOLD


def test_instances_vary_but_stay_closer_to_their_category_than_to_others() -> None:
    src = FractalDBSource(**SMALL)
    shapes = {i: occupancy(src.load(i).rgb) for i in range(len(src))}
    for category in range(4):
        own = range(category * 6, category * 6 + 6)
        others = [i for i in shapes if i not in own]
        within = [np.abs(shapes[i] - shapes[j]).mean() for i in own for j in own if i < j]
        across = [np.abs(shapes[i] - shapes[j]).mean() for i in own for j in others]
        assert min(within) > 0  # no two instances are the same picture
        assert np.mean(within) < np.mean(across)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("categories", 0),
        ("categories", 2.5),
        ("instances", -1),
        ("instances", True),
        ("size", 8),
        ("seed", -1),
        ("points", 10),
        ("fill_threshold", 0.0),
        ("fill_threshold", 0.5),
        ("fill_threshold", "0.2"),
    ],
)
def test_bad_parameters_raise_a_user_error_naming_them(param: str, value: object) -> None:
    with pytest.raises(UserError, match=param):
        FractalDBSource(**{param: value})  # type: ignore[arg-type]


def test_pickle_round_trip_renders_identically() -> None:
    src = FractalDBSource(**SMALL)
    clone = pickle.loads(pickle.dumps(src))
    assert clone.fingerprint() == src.fingerprint()
    assert np.array_equal(clone.load(13).rgb, src.load(13).rgb)


def test_describe_is_json_safe_and_complete() -> None:
    description = json.loads(json.dumps(FractalDBSource(**SMALL).describe()))
    assert description["kind"] == "fractal"
    assert description["images"] == 24
    assert description["fill_threshold"] == DEFAULT_FILL_THRESHOLD
    assert "Pre-training without Natural Images" in description["citation"]


def test_index_out_of_range_raises_index_error() -> None:
    with pytest.raises(IndexError):
        FractalDBSource(**SMALL).load(24)
