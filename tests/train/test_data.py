"""Shard loading: every spec form, mp4 and jpg shards, rank splits, resampling, corrupt data, device augmentation."""
from __future__ import annotations

import io
import json
import math
import tarfile
import warnings
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import webdataset as wds

from synth.errors import UserError
from synth.recipe import decode_recipe, render_recipe
from train.augment import IMAGENET_MEAN, IMAGENET_STD, DeviceAugment
from train.data import DataConfig, _Counts, batch_to_device, decode_clips, make_dataset, make_loader
from train.device_render import RenderBatch
from train.images import make_image_loader
from train.shards import rank_shards, resolve_shards

FRAMES, SIZE, PER_SHARD, SHARDS = 8, 32, 5, 4
CFG = DataConfig(frames=FRAMES, size=SIZE, batch_size=4, shuffle_buffer=8, num_workers=0)


# ---------------------------------------------------------------------------------------------- tiny datasets

def clip(index: int) -> np.ndarray:
    """(FRAMES, SIZE, SIZE, 3): a smooth gradient, brighter by 20 levels each frame, so order survives H.264."""
    ramp = np.linspace(0, 60, SIZE, dtype=np.float32)
    base = ramp[None, :, None] + ramp[:, None, None] / 2 + np.array([0, 20, 40]) + (index % 7) * 3
    return np.stack([base + 20 * t for t in range(FRAMES)]).clip(0, 255).astype(np.uint8)


def encode_mp4(video: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(8))
        stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], "yuv420p"
        stream.codec_context.thread_count = 1
        for t, frame in enumerate(video):
            yuv = av.VideoFrame.from_ndarray(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
            yuv.pts = t
            container.mux(stream.encode(yuv))
        container.mux(stream.encode(None))
    return buf.getvalue()


def members(index: int, fmt: str, labels: bool) -> dict[str, bytes]:
    video = clip(index)
    if fmt == "mp4":
        out = {"mp4": encode_mp4(video)}
    else:
        out = {f"f{t:02d}.jpg": cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes()
               for t, f in enumerate(video)}
    out["json"] = json.dumps({"index": index, "frames": FRAMES, "size": SIZE}).encode()
    if labels:
        out["cls"] = str(index % 5).encode()
    return out


def write_tar(path: Path, samples: dict[str, dict[str, bytes]]) -> None:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for key, parts in samples.items():
            for ext in sorted(parts):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(parts[ext])
                tar.addfile(info, io.BytesIO(parts[ext]))


def write_dataset(root: Path, fmt: str = "mp4", labels: bool = True, shards: int = SHARDS) -> Path:
    root.mkdir(parents=True)
    entries = []
    for s in range(shards):
        keys = range(s * PER_SHARD, (s + 1) * PER_SHARD)
        path = root / f"toy-{s:06d}.tar"
        write_tar(path, {f"{k:09d}": members(k, fmt, labels) for k in keys})
        entries.append({"path": path.name, "sha256": "", "bytes": path.stat().st_size, "count": PER_SHARD})
    manifest = {"name": "toy", "version": "0", "config": {"frames": FRAMES, "size": SIZE, "fps": 8, "format": fmt},
                "shards": entries, "totals": {"samples": shards * PER_SHARD, "shards": shards}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def mp4_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data") / "mp4")


@pytest.fixture(scope="module")
def jpg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data") / "jpg", fmt="jpg", labels=False)


def all_batches(spec: str | list[str], cfg: DataConfig = CFG, **kw: int) -> tuple[list, object]:
    loader = make_loader(spec, cfg, **kw)
    return list(loader), loader


def keys_of(batches: list) -> list[str]:
    return [k for b in batches for k in b.key]


# ----------------------------------------------------------------------------------------------- shard specs

def test_every_spec_form_resolves_to_the_same_shards(mp4_dir: Path) -> None:
    tars = sorted(str(p) for p in mp4_dir.glob("*.tar"))
    assert resolve_shards(tars[1]) == ([tars[1]], None)
    assert resolve_shards(str(mp4_dir / "*.tar")) == (tars, None)
    assert resolve_shards(str(mp4_dir / "toy-{000000..000003}.tar")) == (tars, None)
    assert resolve_shards(tars) == (tars, None)
    shards, manifest = resolve_shards(str(mp4_dir))
    assert shards == tars and manifest["totals"]["samples"] == SHARDS * PER_SHARD
    assert resolve_shards(str(mp4_dir / "manifest.json")) == (tars, manifest)
    assert resolve_shards(f"file://{tars[0]}") == ([f"file://{tars[0]}"], None)
    urls, url_manifest = resolve_shards(f"file://{mp4_dir}")
    assert urls == [f"file://{t}" for t in tars] and url_manifest == manifest
    assert resolve_shards(f"file://{mp4_dir}/*.tar") == (urls, None)


@pytest.mark.parametrize("spec", ["missing.tar", "nowhere/*.tar", "toy-{000007..000009}.tar", "empty_dir",
                                  "file://{root}/empty_dir"])
def test_missing_shards_are_a_user_error_naming_the_spec(tmp_path: Path, spec: str) -> None:
    (tmp_path / "empty_dir").mkdir()
    spec = spec.format(root=tmp_path) if "://" in spec else str(tmp_path / spec)
    with pytest.raises(UserError) as err:
        resolve_shards(spec)
    assert spec.split("/")[-1].split("{")[0] in str(err.value) and "\n" not in str(err.value)


def test_file_url_shards_load(mp4_dir: Path) -> None:
    batches, _ = all_batches(f"file://{mp4_dir}")
    assert len(keys_of(batches)) == SHARDS * PER_SHARD


# ----------------------------------------------------------------------------------------------------- loader

def test_mp4_batches_are_uint8_clips_with_their_labels_and_keys(mp4_dir: Path) -> None:
    batches, loader = all_batches(str(mp4_dir))
    assert len(batches) == len(loader) == 5
    for b in batches:
        assert b.video.dtype == torch.uint8 and b.video.shape[1:] == (FRAMES, SIZE, SIZE, 3)
        assert b.label.tolist() == [int(k) % 5 for k in b.key]
        for video, key in zip(b.video.numpy(), b.key):
            assert np.abs(video.astype(int) - clip(int(key))).mean() < 3  # H.264 is lossy, frames in order
    assert sorted(keys_of(batches)) == [f"{i:09d}" for i in range(SHARDS * PER_SHARD)]
    assert (loader.health.ok, loader.health.skipped, loader.health.shards_failed) == (20, 0, 0)


def test_jpg_batches_without_labels_read_minus_one(jpg_dir: Path) -> None:
    batches, _ = all_batches(str(jpg_dir))
    assert sorted(keys_of(batches)) == [f"{i:09d}" for i in range(SHARDS * PER_SHARD)]
    b = batches[0]
    assert b.video.shape[1:] == (FRAMES, SIZE, SIZE, 3) and b.label.tolist() == [-1] * len(b.key)
    assert np.abs(b.video[0].numpy().astype(int) - clip(int(b.key[0]))).mean() < 3


def test_longer_clips_keep_the_first_frames_and_other_sizes_are_resized(mp4_dir: Path) -> None:
    batches, _ = all_batches(str(mp4_dir), replace(CFG, frames=5, size=24))
    b = batches[0]
    assert b.video.shape[1:] == (5, 24, 24, 3)
    expect = np.stack([cv2.resize(f, (24, 24), interpolation=cv2.INTER_AREA) for f in clip(int(b.key[0]))[:5]])
    assert np.abs(b.video[0].numpy().astype(int) - expect).mean() < 3


def test_asking_for_more_frames_than_rendered_is_a_user_error(mp4_dir: Path) -> None:
    with pytest.raises(UserError, match="--frames 16"):
        make_dataset(str(mp4_dir), replace(CFG, frames=16))


def test_two_workers_together_read_every_sample_once(mp4_dir: Path) -> None:
    batches, loader = all_batches(str(mp4_dir), replace(CFG, num_workers=2, persistent_workers=False))
    assert sorted(keys_of(batches)) == [f"{i:09d}" for i in range(SHARDS * PER_SHARD)]
    assert len(batches) == len(loader) == 6  # each worker reads 2 shards: 10 samples, batches of 4, 4, 2


def test_ranks_read_disjoint_shards_that_cover_the_dataset(mp4_dir: Path) -> None:
    shards, _ = resolve_shards(str(mp4_dir))
    for epoch in range(3):
        split = [rank_shards(shards, r, 2, seed=0, epoch=epoch) for r in range(2)]
        assert not set(split[0]) & set(split[1]) and sorted(split[0] + split[1]) == shards
    assert rank_shards(shards, 0, 2, seed=0, epoch=0) != rank_shards(shards, 0, 2, seed=0, epoch=1) or \
        rank_shards(shards, 0, 2, seed=0, epoch=1) != rank_shards(shards, 0, 2, seed=0, epoch=2)
    per_rank = [keys_of(all_batches(str(mp4_dir), rank=r, world_size=2)[0]) for r in range(2)]
    assert not set(per_rank[0]) & set(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == [f"{i:09d}" for i in range(SHARDS * PER_SHARD)]


def test_same_seed_same_order_and_epochs_reshuffle(mp4_dir: Path) -> None:
    loader = make_loader(str(mp4_dir), CFG)
    first, second = keys_of(list(loader)), keys_of(list(loader))
    assert keys_of(all_batches(str(mp4_dir))[0]) == first
    assert first != second and sorted(first) == sorted(second)


def test_set_epoch_replays_an_epoch_with_persistent_workers(mp4_dir: Path) -> None:
    cfg = replace(CFG, num_workers=2)
    loader = make_loader(str(mp4_dir), cfg)
    e0, e1 = keys_of(list(loader)), keys_of(list(loader))
    loader.set_epoch(0)
    assert keys_of(list(loader)) == e0 != e1
    resumed = make_loader(str(mp4_dir), cfg)
    resumed.set_epoch(1)
    assert keys_of(list(resumed)) == e1


def test_resampled_mode_runs_fixed_length_epochs_past_the_data(mp4_dir: Path) -> None:
    loader = make_loader(str(mp4_dir), replace(CFG, resampled=True), rank=0, world_size=2)
    assert len(loader) == 3  # ceil(20 samples / (2 ranks * 4))
    epochs = [list(loader) for _ in range(3)]
    assert [len(e) for e in epochs] == [3, 3, 3]
    keys = [k for e in epochs for k in keys_of(e)]
    assert len(keys) == 36 > SHARDS * PER_SHARD // 2 and len(set(keys)) < len(keys)


def test_resampled_mode_without_a_manifest_needs_an_epoch_size(mp4_dir: Path) -> None:
    with pytest.raises(UserError, match="epoch_samples"):
        make_loader(str(mp4_dir / "*.tar"), replace(CFG, resampled=True))
    assert len(make_loader(str(mp4_dir / "*.tar"), replace(CFG, resampled=True, epoch_samples=8))) == 2


# ---------------------------------------------------------------------------------------------- corrupt data

def test_truncated_shard_and_corrupt_member_are_skipped_and_counted(mp4_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in mp4_dir.iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    tar = (bad / "toy-000001.tar").read_bytes()
    third = tar.index(b"000000007.mp4")  # cut in the middle of sample 7's video: 5, 6 survive, 7..9 are lost
    (bad / "toy-000001.tar").write_bytes(tar[: third + 1200])
    samples = {f"{k:09d}": members(k, "mp4", True) for k in range(10, 15)}
    samples["000000012"]["mp4"] = b"\x00\x00\x00\x18ftypmp42" + bytes(3000)
    write_tar(bad / "toy-000002.tar", samples)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches, loader = all_batches(str(bad))
    keys = keys_of(batches)
    assert sorted(keys) == [f"{i:09d}" for i in range(20) if i not in (7, 8, 9, 12)]
    assert (loader.health.ok, loader.health.skipped, loader.health.shards_failed) == (16, 4, 1)
    messages = " ".join(str(w.message) for w in caught)
    assert "toy-000001.tar" in messages and "000000012" in messages


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_mostly_corrupt_data_stops_with_a_user_error(tmp_path: Path) -> None:
    bad = write_dataset(tmp_path / "bad", shards=2)
    for s in range(2):
        samples = {f"{k:09d}": members(k, "mp4", True) for k in range(s * PER_SHARD, (s + 1) * PER_SHARD)}
        for key in list(samples)[1:]:
            samples[key]["mp4"] = b"not a video"
        write_tar(bad / f"toy-{s:06d}.tar", samples)
    with pytest.raises(UserError, match=r"too many corrupt samples in \S*bad: [5-8] of 8 skipped.*`synth verify \S*bad`"):
        all_batches(str(bad), replace(CFG, min_seen=8, max_skip_fraction=0.5))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_unreadable_shards_stop_with_a_user_error_in_resampled_mode(tmp_path: Path) -> None:
    bad = write_dataset(tmp_path / "bad", shards=2)
    for s in range(2):
        (bad / f"toy-{s:06d}.tar").write_bytes(b"this is no tar file" * 100)
    with pytest.raises(UserError, match="no sample could be read"):
        list(make_loader(str(bad), replace(CFG, resampled=True)))


# -------------------------------------------------------------------------------------- device augmentation

def random_video(b: int = 6, t: int = 4, h: int = 40, w: int = 48, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (b, t, h, w, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_augment_output_is_normalised_float_b3thw() -> None:
    video = torch.full((2, 4, 40, 48, 3), 128, dtype=torch.uint8)
    out = DeviceAugment(size=32)(video, torch.Generator().manual_seed(0))
    assert out.shape == (2, 3, 4, 32, 32) and out.dtype == torch.float32
    expect = (128 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(out, expect.view(1, 3, 1, 1, 1).expand_as(out), atol=1e-5)


def test_flip_mirrors_exactly_the_clips_it_picks() -> None:
    video = random_video(b=16)
    flipped = DeviceAugment(size=32, flip=True)
    plain = DeviceAugment(size=32, flip=False)
    params = flipped.sample(16, 40, 48, torch.Generator().manual_seed(3))
    assert 0 < int(params.flip.sum()) < 16
    a = flipped(video, torch.Generator().manual_seed(3))
    b = plain(video, torch.Generator().manual_seed(3))
    for i in range(16):
        expect = torch.flip(b[i], dims=[-1]) if params.flip[i] else b[i]
        assert torch.allclose(a[i], expect, atol=1e-5)


def test_crop_is_one_videomae_window_shared_by_every_frame_of_a_clip() -> None:
    video = random_video()
    aug = DeviceAugment(size=32, flip=False)
    params = aug.sample(6, 40, 48, torch.Generator().manual_seed(1))
    out = aug.apply(video, params)
    assert len({tuple(b.tolist()) for b in params.box}) > 1  # clips get different crops
    sides = [40, 35, 32, 26]  # int(40 * scale), with 30 within 2 px of the output size snapped to 32
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    for i, (x0, y0, w, h) in enumerate(params.box.tolist()):
        assert abs(sides.index(w) - sides.index(h)) <= 1  # max_distort=1
        assert x0 in [q * ((48 - w) // 4) for q in range(5)] and y0 in [q * ((40 - h) // 4) for q in range(5)]
        for t in range(video.shape[1]):
            crop = video[i, t, y0:y0 + h, x0:x0 + w].permute(2, 0, 1).float()[None]
            ref = (F.interpolate(crop, size=(32, 32), mode="bilinear", align_corners=False)[0] / 255 - mean) / std
            assert torch.allclose(out[i, :, t, 1:-1, 1:-1], ref[:, 1:-1, 1:-1], atol=1e-3)


def test_augment_is_deterministic_for_a_generator_seed() -> None:
    video, aug = random_video(), DeviceAugment(size=32)
    a = aug(video, torch.Generator().manual_seed(5))
    assert torch.equal(a, aug(video, torch.Generator().manual_seed(5)))
    assert not torch.equal(a, aug(video, torch.Generator().manual_seed(6)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_augment_on_cuda_matches_cpu() -> None:
    video, aug = random_video(), DeviceAugment(size=32)
    cpu = aug(video, torch.Generator().manual_seed(2))
    gpu = aug(video.cuda(), torch.Generator().manual_seed(2))
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)


# ------------------------------------------------------------------------------------------------ recipe shards

RECIPES = 10


@pytest.fixture(scope="module")
def recipe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 recipe samples (zoom, affine, cutmix, colour jitter with Mixup) of 8 x 32 px in 2 shards."""
    from sample_images import write_images

    from synth.cli import main as synth_main

    root = tmp_path_factory.mktemp("recipes")
    write_images(root / "images", 6)
    code = synth_main(["render", "--images", str(root / "images"), "--out", str(root / "data"), "--format", "recipe",
                       "--transforms", "zoom,affine,cutmix,color_jitter", "--num-videos", str(RECIPES),
                       "--frames", str(FRAMES), "--size", str(SIZE), "--shard-size", "5", "--workers", "0",
                       "--no-progress"])
    assert code == 0
    return root / "data"


def rendered(batches: list) -> dict[str, np.ndarray]:
    """key -> uint8 (T, S, S, 3) of every batch, rendered (on the CPU) where the batch holds recipes."""
    return {k: v for b in batches for k, v in zip(b.key, batch_to_device(b, "cpu").numpy())}


def test_recipe_batches_render_on_the_device_or_in_the_workers_alike(recipe_dir: Path) -> None:
    device_batches, loader = all_batches(str(recipe_dir))
    assert all(isinstance(b.video, RenderBatch) for b in device_batches) and len(device_batches) == len(loader) == 3
    cpu_batches, _ = all_batches(str(recipe_dir), replace(CFG, render_on="cpu"))
    assert all(isinstance(b.video, torch.Tensor) for b in cpu_batches)
    on_device, on_cpu = rendered(device_batches), rendered(cpu_batches)
    assert sorted(on_device) == sorted(on_cpu) == [f"{i:09d}" for i in range(RECIPES)]
    samples = {s["__key__"]: s for s in wds.WebDataset(str(recipe_dir / "pseudomotion-{000000..000001}.tar"),
                                                       shardshuffle=False)}
    for key, video in on_cpu.items():
        assert video.shape == (FRAMES, SIZE, SIZE, 3)
        assert np.array_equal(video, render_recipe(decode_recipe(samples[key])))  # synth's own renderer
        assert np.abs(on_device[key].astype(int) - video).max() <= 2  # device_render's rounding flips
    assert (loader.health.ok, loader.health.skipped) == (RECIPES, 0)


def test_recipes_render_at_the_asked_frames_and_size(recipe_dir: Path) -> None:
    batches, _ = all_batches(str(recipe_dir), replace(CFG, frames=12, size=48))
    assert next(iter(rendered(batches).values())).shape == (12, 48, 48, 3)  # more frames than rendered is fine


def test_fresh_motion_redraws_the_motion_of_the_same_images_each_epoch(recipe_dir: Path) -> None:
    sample = next(iter(wds.WebDataset(str(recipe_dir / "pseudomotion-000000.tar"), shardshuffle=False)))
    specs = [next(decode_clips([sample], frames=FRAMES, size=SIZE, threads=1, counts=_Counts(), epoch=e,
                               fresh=True))[1].spec for e in (0, 1)]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(specs[0].layers, specs[1].layers))
    assert [layer.motion for layer in specs[0].layers] != [layer.motion for layer in specs[1].layers]
    cfg = replace(CFG, fresh_motion=True, num_workers=2)
    loader = make_loader(str(recipe_dir), cfg)
    e0, e1 = rendered(list(loader)), rendered(list(loader))
    assert sorted(e0) == sorted(e1) and all(not np.array_equal(e0[k], e1[k]) for k in e0)
    resumed = make_loader(str(recipe_dir), cfg)
    resumed.set_epoch(1)
    assert all(np.array_equal(v, e1[k]) for k, v in rendered(list(resumed)).items())  # exact resume
    plain = make_loader(str(recipe_dir), CFG)
    p0, p1 = rendered(list(plain)), rendered(list(plain))
    assert all(np.array_equal(p0[k], p1[k]) for k in p0)  # without it, every epoch shows the shard's motion


def test_fresh_motion_on_video_shards_is_a_user_error(mp4_dir: Path) -> None:
    for spec in (str(mp4_dir), str(mp4_dir / "*.tar")):  # told by the manifest, or by the first sample's members
        with pytest.raises(UserError, match="--fresh-motion needs recipe shards.*these hold mp4 video"):
            make_dataset(spec, replace(CFG, fresh_motion=True))


def test_corrupt_recipe_samples_are_skipped_and_counted(recipe_dir: Path, tmp_path: Path) -> None:
    samples = {}
    for s in wds.WebDataset(str(recipe_dir / "pseudomotion-000000.tar"), shardshuffle=False):
        samples[s["__key__"]] = {k: v for k, v in s.items() if not k.startswith("__")}
    keys = sorted(samples)
    image = next(k for k in samples[keys[1]] if k.startswith("img0."))
    samples[keys[1]][image] = samples[keys[1]][image][:100]  # a truncated JPEG
    samples[keys[3]]["json"] = b'{"index": 3'  # bad json
    write_tar(tmp_path / "bad.tar", samples)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches, loader = all_batches(str(tmp_path / "bad.tar"))
    assert sorted(keys_of(batches)) == [keys[0], keys[2], keys[4]]
    assert (loader.health.ok, loader.health.skipped) == (3, 2)
    assert keys[1] in " ".join(str(w.message) for w in caught)


# ------------------------------------------------------------------------------------------------ from images

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_images_dataset_splits_epochs_between_ranks_and_redraws_fresh_motion(image_folder: Path) -> None:
    from synth.config import MotionConfig

    (image_folder / "broken.jpg").write_bytes(b"not an image")
    cfg = replace(CFG, batch_size=2, fresh_motion=True)
    loaders = [make_image_loader(str(image_folder), MotionConfig(), cfg, rank=r, world_size=2) for r in range(2)]
    epochs = [[rendered(list(loader)) for _ in range(2)] for loader in loaders]
    keys = [sorted(e[0]) for e in epochs]
    assert not set(keys[0]) & set(keys[1]) and sorted(keys[0] + keys[1]) == [f"{i:09d}" for i in range(7)]
    assert all(not np.array_equal(epochs[0][0][k], epochs[0][1][k]) for k in set(epochs[0][0]) & set(epochs[0][1]))
    assert len(loaders[0]) == math.ceil(len(keys[0]) / 2)
    # The broken image is replaced by the next usable one and counted once by each process that meets it.
    assert [loader.health.skipped for loader in loaders] in ([1, 1], [1, 0], [0, 1])
    again = make_image_loader(str(image_folder), MotionConfig(), cfg, rank=0, world_size=2)
    again.set_epoch(1)
    assert all(np.array_equal(v, epochs[0][1][k]) for k, v in rendered(list(again)).items())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_mostly_bad_images_stop_with_a_user_error_naming_the_source(image_folder: Path) -> None:
    from synth.config import MotionConfig

    for i in range(12):
        (image_folder / f"zz{i:02d}.jpg").write_bytes(b"not an image")
    cfg = replace(CFG, min_seen=4, max_skip_fraction=0.5)
    with pytest.raises(UserError, match=f"too many corrupt samples in {image_folder}.*fix or remove the bad images"):
        list(make_image_loader(str(image_folder), MotionConfig(), cfg))
