"""Recipe shards (`synth render --format recipe`): members, verify, webdataset, size, re-rendering, fresh motion."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import webdataset as wds
from sample_images import SMALL, textured_image

from synth.codec import decode_members, encode
from synth.config import MotionConfig, RenderConfig
from synth.draw import draw_sample
from synth.recipe import decode_recipe, fresh_motion, is_recipe, render_recipe
from synth.render import reduce_source
from synth.sample import ImageCache, make_sample, recipe_sample, render_sample
from synth.sources import open_source

ALL = "zoom,affine,slide,perspective,fade,color_jitter,cutmix"


def first_samples(out: Path) -> list[dict]:
    return list(wds.WebDataset(str(out / "pseudomotion-000000.tar"), shardshuffle=False))


def test_recipe_shards_verify_preview_and_read_back_with_webdataset(synth_cli, image_folder: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, err = synth_cli("render", "--images", image_folder, "--out", out, "--format", "recipe",
                                  "--transforms", "zoom,cutmix", "--num-videos", 5, *SMALL)
    assert code == 0 and "wrote 5 clips in 1 shards" in stdout, err
    assert synth_cli("verify", out)[:2] == (0, f"{out}: OK\n")
    code, stdout, err = synth_cli("reproduce", out, "--out", tmp_path / "again", "--workers", 0)
    assert code == 0 and "byte-identical" in stdout, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["codec"]["format"] == "recipe"
    samples = first_samples(out)
    assert [s["__key__"] for s in samples] == [f"{i:09d}" for i in range(5)]
    for s in samples:
        meta = json.loads(s["json"])
        assert meta["format"] == "recipe" and meta["mixup"]["transform"] in ("zoom", "cutmix")
        assert meta["motion"]["transforms"] == {"zoom": 1.0, "cutmix": 1.0}
        names = [name for layer in meta["layers"] for name in (layer["image"], layer["still"])]
        assert {"img0.jpg", "cut0.jpg"} <= set(names) and set(names) <= {k for k in s if not k.startswith("__")}
        assert "mp4" not in s and is_recipe(s)
        image = cv2.imdecode(np.frombuffer(s["img0.jpg"], np.uint8), cv2.IMREAD_COLOR)  # textures: JPEG < PNG
        assert image.shape == (40, 53, 3)  # 96x128 source reduced to 1.25 x 32 on its shorter side
        still = cv2.imdecode(np.frombuffer(s[meta["layers"][0]["still"]], np.uint8), cv2.IMREAD_COLOR)
        assert still.shape == (32, 32, 3)
    code, _, err = synth_cli("preview", out, "--out", tmp_path / "p.png", "--count", 2)
    assert code == 0, err
    assert cv2.imread(str(tmp_path / "p.png")).shape == (2 * 32 + 4, 4 * 32 + 3 * 4, 3)


def test_no_cutmix_stills_without_cutmix_and_no_mixup_partner_without_mixup(synth_cli, image_folder: Path,
                                                                              tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert synth_cli("render", "--images", image_folder, "--out", out, "--format", "recipe", "--no-mixup",
                     *SMALL)[0] == 0
    for s in first_samples(out):
        assert sorted(k for k in s if not k.startswith("__")) == ["img0.jpg", "json"]
        assert json.loads(s["json"])["layers"] == [{"image": "img0.jpg", "still": None}]


def test_recipe_shards_are_much_smaller_than_mp4(synth_cli, tmp_path: Path) -> None:
    """16 x 64 px clips of 256x192 sources: measured 768000 vs 327680 bytes (2.34x); at 16 x 224 the README lists
    the sizes of real sources."""
    images = tmp_path / "images"
    images.mkdir()
    for i in range(6):
        cv2.imwrite(str(images / f"i{i}.jpg"), textured_image(i, 192, 256))
    size = {}
    for fmt in ("mp4", "recipe"):
        assert synth_cli("render", "--images", images, "--out", tmp_path / fmt, "--format", fmt, "--num-videos", 24,
                         "--frames", 16, "--size", 64, "--workers", 0)[0] == 0
        size[fmt] = json.loads((tmp_path / fmt / "manifest.json").read_text())["totals"]["bytes"]
    assert size["mp4"] > 2.0 * size["recipe"]


def cfg_and_cache(image_folder: Path, **motion) -> tuple[RenderConfig, ImageCache]:
    cfg = RenderConfig(images=str(image_folder), frames=6, size=32, seed=4, motion=MotionConfig(**motion),
                       codec=replace(RenderConfig().codec, format="recipe"))
    return cfg, ImageCache(open_source(cfg.images, min_side=cfg.size))


@pytest.mark.parametrize("transforms", [{"zoom": 1.0, "affine": 1.0}, {name: 1.0 for name in ALL.split(",")}])
def test_recipe_renders_the_video_frames(image_folder: Path, transforms: dict) -> None:
    """Same draw, same images: exact before the images are encoded, within JPEG's error after."""
    cfg, cache = cfg_and_cache(image_folder, transforms=transforms)
    for index in range(8):
        video = render_sample(cfg, cache, index)[0][..., :3]
        recipe, _ = recipe_sample(cfg, cache, index, stills=True)
        assert np.array_equal(render_recipe(recipe), video)
        stored = decode_recipe(make_sample(cfg, cache, index).members)
        assert [layer.motion for layer in stored.layers] == [layer.motion for layer in recipe.layers]
        error = np.abs(render_recipe(stored).astype(int) - video).mean()
        mp4 = np.abs(decode_members(encode(video, cfg.fps, replace(cfg.codec, format="mp4"))).astype(int) - video)
        assert error < 0.75 * mp4.mean()  # JPEG-stored sources lose less than H.264 at crf 20: measured <= 0.56x


def test_sparse_images_are_stored_as_lossless_png_and_render_exactly() -> None:
    cfg = RenderConfig(images="fractal:categories=2,instances=2,size=128", frames=4, size=112,
                       codec=replace(RenderConfig().codec, format="recipe"))
    cache = ImageCache(open_source(cfg.images, min_side=112))  # 128 px drawings: not reduced for 112 px frames
    members = make_sample(cfg, cache, 1).members
    assert "img0.png" in members and "img0.jpg" not in members
    assert np.array_equal(render_recipe(decode_recipe(members)), render_sample(cfg, cache, 1)[0][..., :3])


def test_sources_the_video_renderer_warps_whole_are_stored_reduced_and_render_closely(image_folder: Path) -> None:
    """96x128 sources for 48 px frames: the video renderer warps them as they are (under 2.5x the frame side),
    the recipe stores them at 1.25x (60 px) and renders within a fraction of H.264's error of the video frames."""
    cfg, cache = cfg_and_cache(image_folder)
    cfg = replace(cfg, size=48)
    for index in range(4):
        video = render_sample(cfg, cache, index)[0][..., :3]
        stored = decode_recipe(make_sample(cfg, cache, index).members)
        assert [layer.image.shape for layer in stored.layers] == [(60, 80, 3)] * 2
        error = np.abs(render_recipe(stored).astype(int) - video).mean()
        mp4 = np.abs(decode_members(encode(video, cfg.fps, replace(cfg.codec, format="mp4"))).astype(int) - video)
        assert 0 < error < 0.75 * mp4.mean()


def test_fresh_motion_changes_the_frames_not_the_images(image_folder: Path) -> None:
    cfg, cache = cfg_and_cache(image_folder, transforms={"zoom": 1.0, "affine": 1.0, "cutmix": 1.0})
    stored = decode_recipe(make_sample(cfg, cache, 3).members)
    epochs = [fresh_motion(stored, epoch) for epoch in range(3)]
    for a, b in zip(epochs, epochs[1:]):
        assert all(np.array_equal(x.image, y.image) for x, y in zip(a.layers, b.layers))
        assert [x.motion for x in a.layers] != [y.motion for y in b.layers] and a.lam != b.lam
        assert not np.array_equal(render_recipe(a), render_recipe(b))
    assert [fresh_motion(stored, 1).layers[i].motion for i in range(2)] == \
        [layer.motion for layer in draw_sample(cfg, len(cache.source), 3, epoch=1).layers]  # one draw for all paths
    shard_draw = draw_sample(cfg, len(cache.source), 3)
    again = draw_sample(cfg, len(cache.source), 3, epoch=1)
    assert [x.image for x in shard_draw.layers] == [x.image for x in again.layers]
    assert [x.cut_partner for x in shard_draw.layers] == [x.cut_partner for x in again.layers]
    fresh, _ = recipe_sample(cfg, cache, 3, epoch=1)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(fresh.layers, recipe_sample(cfg, cache, 3)[0].layers))


def test_the_dataset_draw_is_unchanged() -> None:
    """Values written by the renderer before draw_sample existed: existing datasets re-render byte-identical."""
    cfg = RenderConfig(images="fractal:categories=2,instances=2", frames=4, size=32, seed=3,
                       motion=MotionConfig(transforms={"cutmix": 1.0, "slide": 1.0}))
    meta = render_sample(cfg, ImageCache(open_source(cfg.images, min_side=32)), 5)[1]
    assert (meta["transform"], meta["params"], meta["source_id"]) == (
        "cutmix", {"angle": 207.963165, "box": 0.42675, "speed": 0.093917}, "fractal/c0000/i0001")
    assert (meta["mixup"]["lambda"], meta["mixup"]["params"], meta["mixup"]["source_id"]) == (
        0.685866, {"angle": 49.447449, "box": 0.306439, "speed": 0.097365}, "fractal/c0001/i0000")


def test_reduce_source_is_idempotent_and_never_upscales() -> None:
    big, small = textured_image(0, 400, 600), textured_image(1, 60, 80)
    reduced = reduce_source(big, 32)
    assert reduced.shape == (40, 60, 3) and np.array_equal(reduce_source(reduced, 32), reduced)
    assert reduce_source(small, 32) is small
    stored = reduce_source(small, 32, max_minify=1.0)  # 60 px over 1.25 x 32 = 40: what a recipe stores
    assert stored.shape == (40, 53, 3) and reduce_source(stored, 32) is stored


@pytest.mark.parametrize("damage", ["json", "image", "missing"])
def test_corrupt_recipe_members_raise_value_error(image_folder: Path, damage: str) -> None:
    cfg, cache = cfg_and_cache(image_folder)
    members = dict(make_sample(cfg, cache, 0).members)
    if damage == "json":
        members["json"] = members["json"][:40]
    elif damage == "image":
        members["img0.jpg"] = members["img0.jpg"][:200]
    else:
        del members["img1.jpg"]
    with pytest.raises(ValueError):
        render_recipe(decode_recipe(members))


def test_unknown_format_is_one_line(synth_cli, image_folder: Path, tmp_path: Path) -> None:
    code, _, err = synth_cli("render", "--images", image_folder, "--out", tmp_path / "o", "--format", "gif", *SMALL)
    assert code == 2 and "invalid choice: 'gif'" in err
