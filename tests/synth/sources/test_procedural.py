"""The built-in procedural source: every family renders, images are reproducible, mistakes are UserErrors."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from synth.errors import UserError
from synth.sources.base import ImageSource
from synth.sources.procedural import FAMILIES, ProceduralSource

SIZE = 64  # small images keep the suite fast; the programs work in [-1, 1] coordinates at any size


def test_registry_holds_at_least_twenty_families():
    assert len(FAMILIES) >= 20


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_renders_a_varied_uint8_image(family):
    source = ProceduralSource(images=3, size=SIZE, seed=1, families=(family,))
    for i in range(len(source)):
        image = source.load(i)
        assert image.rgb.dtype == np.uint8 and image.rgb.shape == (SIZE, SIZE, 3)
        assert image.rgb.flags.c_contiguous
        assert image.rgb.std() > 8.0, f"{family} image {i} is nearly flat"
        assert image.source_id == f"procedural/{family}/{i:06d}"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_families_return_finite_float_rgb_in_unit_range(family):
    from synth.sources.shader_ops import Params, square_coords

    rgb = FAMILIES[family](square_coords(SIZE), Params(np.random.default_rng([5, 0])))
    assert rgb.shape == (SIZE, SIZE, 3) and rgb.dtype == np.float32
    assert np.isfinite(rgb).all() and rgb.min() >= 0.0 and rgb.max() <= 1.0


def test_same_seed_and_index_give_identical_bytes_and_hash():
    a, b = ProceduralSource(images=30, size=SIZE, seed=7), ProceduralSource(images=30, size=SIZE, seed=7)
    for i in (0, 11, 29):
        x, y = a.load(i), b.load(i)
        assert x.rgb.tobytes() == y.rgb.tobytes()
        assert x.content_hash == y.content_hash and x.source_id == y.source_id


def test_another_seed_gives_other_images():
    a, b = ProceduralSource(images=5, size=SIZE, seed=0), ProceduralSource(images=5, size=SIZE, seed=1)
    for i in range(5):
        assert a.load(i).rgb.tobytes() != b.load(i).rgb.tobytes()
        assert a.load(i).content_hash != b.load(i).content_hash


def test_size_changes_the_content_hash():
    assert ProceduralSource(size=32).load(0).content_hash != ProceduralSource(size=64).load(0).content_hash


def test_each_run_of_family_count_images_covers_every_family_and_labels_match():
    source = ProceduralSource(images=2 * len(FAMILIES), size=16, seed=3)
    names = sorted(FAMILIES)
    loaded = [source.load(i) for i in range(len(FAMILIES))]
    assert sorted(img.source_id.split("/")[1] for img in loaded) == names
    for img in loaded:
        assert img.label == names.index(img.source_id.split("/")[1])
    assert source.describe()["families"] == names


def test_label_indexes_the_chosen_families():
    source = ProceduralSource(images=4, size=16, families=("plasma", "fbm"))
    assert source.describe()["families"] == ["fbm", "plasma"]
    for i in range(4):
        img = source.load(i)
        assert ["fbm", "plasma"][img.label] == img.source_id.split("/")[1]


def test_protocol_fingerprint_and_description():
    source = ProceduralSource(images=10, size=SIZE, seed=2)
    assert isinstance(source, ImageSource) and source.name == "procedural" and len(source) == 10
    assert source.fingerprint() == ProceduralSource(images=10, size=SIZE, seed=2).fingerprint()
    assert source.fingerprint() != ProceduralSource(images=11, size=SIZE, seed=2).fingerprint()
    assert source.fingerprint() != ProceduralSource(images=10, size=SIZE, seed=2, families=("fbm",)).fingerprint()
    info = source.describe()
    assert info["kind"] == "procedural" and (info["images"], info["size"], info["seed"]) == (10, SIZE, 2)
    assert "Shaders1k" in info["citation"] and "not the Shaders1k dataset" in info["citation"]
    assert info["license"]


def test_unknown_family_is_a_user_error_listing_the_choices():
    with pytest.raises(UserError, match="families") as err:
        ProceduralSource(families=("fbm", "nope"))
    assert "nope" in str(err.value) and "plasma" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("kwargs, name", [
    ({"images": 0}, "images"), ({"images": 2.5}, "images"), ({"size": 8}, "size"),
    ({"size": True}, "size"), ({"seed": -1}, "seed"), ({"families": ()}, "families"),
])
def test_bad_arguments_are_user_errors_naming_the_parameter(kwargs, name):
    with pytest.raises(UserError, match=name):
        ProceduralSource(**kwargs)


def test_out_of_range_index_raises_index_error():
    with pytest.raises(IndexError):
        ProceduralSource(images=2, size=16).load(2)


def test_pickle_round_trip_renders_the_same_image():
    source = ProceduralSource(images=8, size=SIZE, seed=4, families=("julia", "voronoi"))
    clone = pickle.loads(pickle.dumps(source))
    assert clone.fingerprint() == source.fingerprint()
    assert clone.load(5).rgb.tobytes() == source.load(5).rgb.tobytes()
