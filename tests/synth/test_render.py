"""`synth render` end to end: shards, manifest, index, determinism across workers, resume, refusal, bad input."""
from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pyarrow.parquet as pq
import pytest
import webdataset as wds
from sample_images import SMALL

from synth.shards import sidecar_path


def shard_hashes(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.tar"))}


def test_render_writes_readable_shards_manifest_and_index(synth_cli, image_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = synth_cli("render", "--images", image_folder, "--out", out, "--num-videos", 7,
                                "--shard-size", 3, *SMALL)
    assert code == 0 and "wrote 7 clips in 3 shards" in stdout
    assert sorted(p.name for p in out.glob("*.tar")) == [f"pseudomotion-00000{i}.tar" for i in range(3)]
    samples = list(wds.WebDataset(str(out / "pseudomotion-{000000..000002}.tar"), shardshuffle=False))
    assert [s["__key__"] for s in samples] == [f"{i:09d}" for i in range(7)]
    with av.open(io.BytesIO(samples[0]["mp4"])) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape == (32, 32, 3)
    meta = json.loads(samples[0]["json"])
    assert meta["transform"] in ("zoom", "affine") and meta["mixup"]["transform"] in ("zoom", "affine")
    assert meta["content_hash"] and meta["source_id"].startswith("img")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["samples"] == 7 and len(manifest["shards"]) == 3
    assert manifest["config"]["frames"] == 4 and manifest["source"]["fingerprint"]
    for shard in manifest["shards"]:
        assert hashlib.sha256((out / shard["path"]).read_bytes()).hexdigest() == shard["sha256"]
    index = pq.read_table(out / "index.parquet").to_pylist()
    assert [r["key"] for r in index] == [f"{i:09d}" for i in range(7)]
    assert index[3]["shard"] == "pseudomotion-000001.tar"


def test_labels_from_subfolders_become_cls(synth_cli, tmp_path: Path) -> None:
    from sample_images import write_images

    write_images(tmp_path / "imgs", 6, classes=3)
    out = tmp_path / "out"
    assert synth_cli("render", "--images", tmp_path / "imgs", "--labels", "--out", out, "--no-mixup", *SMALL)[0] == 0
    samples = list(wds.WebDataset(str(out / "pseudomotion-000000.tar"), shardshuffle=False))
    assert [int(s["cls"]) for s in samples] == [0, 0, 1, 1, 2, 2]  # sorted paths: class0/*, class1/*


@pytest.mark.slow
def test_same_bytes_in_process_and_with_two_ray_workers(synth_cli, image_folder: Path, tmp_path: Path) -> None:
    args = ("--images", image_folder, "--num-videos", 8, "--shard-size", 2, "--frames", 4, "--size", 32)
    assert synth_cli("render", *args, "--out", tmp_path / "a", "--workers", 0)[0] == 0
    code, _, err = synth_cli("render", *args, "--out", tmp_path / "b", "--workers", 2)
    assert code == 0, err
    assert shard_hashes(tmp_path / "a") == shard_hashes(tmp_path / "b") and len(shard_hashes(tmp_path / "a")) == 4
    assert synth_cli("verify", tmp_path / "b")[0] == 0


@pytest.mark.slow
def test_resume_after_sigkill_finishes_with_identical_shards(image_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "synth.cli", "render", "--images", str(image_folder), "--out", str(out),
           "--num-videos", "60", "--shard-size", "3", *SMALL]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not sidecar_path(out / "pseudomotion-000002.tar").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(out.glob("*.tar.json")))
    assert 3 <= finished < 20 and not (out / "manifest.json").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert f"{finished} already complete" in again.stdout or f"{finished + 1} already complete" in again.stdout
    assert not list(out.glob("*.partial"))
    clean = subprocess.run([str(tmp_path / "clean") if a == str(out) else a for a in cmd], capture_output=True, check=True)
    assert clean.returncode == 0 and shard_hashes(out) == shard_hashes(tmp_path / "clean")


def test_rerun_resumes_and_other_config_is_refused(synth_cli, image_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = ("render", "--images", image_folder, "--out", out, "--shard-size", 2, *SMALL)
    assert synth_cli(*base)[0] == 0
    code, stdout, _ = synth_cli(*base)
    assert code == 0 and "0 rendered, 3 already complete" in stdout
    code, _, err = synth_cli(*base, "--seed", 5)
    assert code == 2 and "config differs in seed" in err and "--overwrite" in err and err.count("\n") == 1
    assert synth_cli(*base, "--seed", 5, "--overwrite")[0] == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5


def test_non_empty_foreign_folder_is_refused(synth_cli, image_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    code, _, err = synth_cli("render", "--images", image_folder, "--out", tmp_path / "out", *SMALL)
    assert code == 2 and "not empty" in err


def test_bad_images_are_skipped_counted_and_listed(synth_cli, image_folder: Path, tmp_path: Path) -> None:
    (image_folder / "zero.jpg").write_bytes(b"")
    (image_folder / "text.png").write_text("not an image")
    good = (image_folder / "img001.jpg").read_bytes()
    (image_folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    out = tmp_path / "out"
    code, stdout, _ = synth_cli("render", "--images", image_folder, "--out", out, "--num-videos", 9, *SMALL)
    assert code == 0 and "skipped 3 unusable input images" in stdout
    reasons = json.loads((out / "manifest.json").read_text())["skipped_inputs"]
    assert sorted(r["reason"].split(":")[0] for r in reasons) == ["text.png", "truncated.jpg", "zero.jpg"]
    assert synth_cli("verify", out)[0] == 0
    code, _, err = synth_cli("render", "--images", image_folder, "--out", tmp_path / "o2", "--on-bad-image", "fail",
                             *SMALL)
    assert code == 2 and "--on-bad-image skip" in err and err.count("\n") == 1
    assert any(name in err for name in ("text.png", "truncated.jpg", "zero.jpg"))


def test_named_source_missing_says_where_and_what_works_offline(synth_cli, tmp_path: Path) -> None:
    code, _, err = synth_cli("render", "--images", "shaders1k", "--data-root", tmp_path, "--out", tmp_path / "o")
    assert code == 2 and str(tmp_path / "shaders1k") in err and "--images procedural" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("args, needle", [
    (("--images", "/no/such/dir"), "no such folder"),
    (("--images", "IMAGES", "--size", "31"), "--size"),
    (("--images", "IMAGES", "--transforms", "zoom,warp"), "unknown transform 'warp'"),
    (("--images", "fractal:colour=red"), "colour"),
])
def test_bad_flags_give_one_line(synth_cli, image_folder: Path, tmp_path: Path, args, needle) -> None:
    args = [str(image_folder) if a == "IMAGES" else a for a in args]
    code, _, err = synth_cli("render", *args, "--out", tmp_path / "o", "--workers", 0)
    assert code == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_output_is_one_line(synth_cli, image_folder: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = "/proc/pseudomotion-out"  # root ignores permissions; /proc refuses new entries
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        target = str(tmp_path / "ro" / "out")
    code, _, err = synth_cli("render", "--images", image_folder, "--out", target, *SMALL)
    assert code == 2 and "cannot" in err and err.count("\n") == 1


def test_named_source_present_renders_with_its_licence(synth_cli, tmp_path: Path) -> None:
    from sample_images import write_images

    write_images(tmp_path / "root" / "fractaldb" / "cat_a", 2)
    write_images(tmp_path / "root" / "fractaldb" / "cat_b", 2)
    out = tmp_path / "out"
    code, _, err = synth_cli("render", "--images", "fractaldb", "--data-root", tmp_path / "root", "--out", out, *SMALL)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["card"]["license"] == "CC-BY 4.0" and manifest["source"]["classes"] == ["cat_a", "cat_b"]
    code, stdout, _ = synth_cli("info", out)
    assert "CC-BY 4.0" in stdout and "Kataoka" in stdout


def test_recipe_with_flag_overrides(synth_cli, tmp_path: Path) -> None:
    recipe = Path(__file__).resolve().parents[2] / "manifests" / "recipes" / "fractal-builtin.yaml"
    out = tmp_path / "out"
    code, _, err = synth_cli("render", "--recipe", recipe, "--images", "fractal:categories=2,instances=2",
                             "--num-videos", 3, "--out", out, *SMALL)
    assert code == 0, err
    cfg = json.loads((out / "manifest.json").read_text())["config"]
    assert (cfg["name"], cfg["num_videos"], cfg["frames"], cfg["shard_size"]) == ("pmg-fractal", 3, 4, 500)


def test_synth_renders_without_torch(image_folder: Path, tmp_path: Path) -> None:
    """Rendering workers are CPU-only images without torch: nothing in synth may import it."""
    code = ("import sys; sys.modules['torch'] = None; from synth.cli import main; "
            f"sys.exit(main(['render', '--images', {str(image_folder)!r}, '--out', {str(tmp_path / 'o')!r}, "
            "'--frames', '4', '--size', '32', '--workers', '0']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "torch" not in done.stderr
