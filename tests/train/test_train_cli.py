"""`train-vmae` as scripts use it: config precedence, run length, run-folder safety, one-line errors.

(Named test_train_cli.py: pytest's default import mode needs unique test file names, and tests/synth has
test_cli.py.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from preempt import preempted

TINY = ("--model", "tiny", "--batch-size", 4, "--workers", 0, "--device", "cpu", "--no-progress")


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_yaml_config_flags_and_manifest_resolve_into_the_saved_config(shards: Path, tmp_path: Path,
                                                                      train_cli) -> None:
    config = tmp_path / "pretrain.yaml"
    config.write_text("model: {size: tiny}\ndata: {batch_size: 2}\noptim: {lr: 0.002, warmup: 0.0}\n"
                      "loop: {steps: 50}\n")
    run = tmp_path / "run"
    code, out, err = train_cli("--shards", shards, "--out", run, "--config", config, "--batch-size", 4,
                               "--epochs", 1, "--workers", 0, "--device", "cpu", "--no-progress")
    assert code == 0, err
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert (saved["data"]["frames"], saved["data"]["size"]) == (4, 32)  # from the manifest
    assert saved["data"]["batch_size"] == 4 and saved["optim"]["lr"] == 0.002  # flag over file, file over default
    assert saved["loop"]["epochs"] == 1 and saved["loop"]["steps"] is None  # --epochs replaces the file's steps
    assert records(run)[-1]["step"] == 8  # one epoch: 32 clips / 4 per step
    assert out.splitlines()[-1].startswith(f"train-vmae: trained steps 0 -> 8, final loss ")
    assert out.splitlines()[-1].endswith(f"clips/s, checkpoint {run / 'checkpoint-last.pt'}")


def test_a_run_folder_is_never_trained_over_by_accident(shards: Path, tmp_path: Path, train_cli) -> None:
    run = tmp_path / "run"
    args = ("--shards", shards, "--out", run, "--steps", 2, *TINY)
    assert train_cli(*args)[0] == 0
    code, _, err = train_cli(*args)
    assert code == 2 and "holds a run; pass --resume to continue it, --overwrite to start over" in err
    code, _, err = train_cli(*args, "--model", "small")  # the last --model wins
    assert code == 2 and "config differs in model.size" in err
    code, out, _ = train_cli(*args, "--resume")
    assert code == 0 and "trained steps 2 -> 2" in out
    assert train_cli(*args, "--overwrite", "--log-every", 1)[0] == 0
    assert [r["step"] for r in records(run)] == [1, 2]


@pytest.mark.parametrize("args, message", [
    (("--shards", "{tmp}/missing", "--steps", 2), "{tmp}/missing: no such file or directory"),
    (("--shards", "{shards}"), "say how long to train: --steps N or --epochs N"),
    (("--shards", "{shards}", "--steps", 2, "--epochs", 1), "argument --epochs: not allowed with argument --steps"),
    (("--shards", "{shards}", "--steps", 2, "--model", "huge"), "argument --model: invalid choice: 'huge'"),
    (("--shards", "{shards}", "--steps", 2, "--mask-ratio", 1.5), "mask.ratio=1.5 (--mask-ratio): must be between"),
    (("--shards", "{shards}", "--steps", 2, "--size", 40), "img_size 40 must be a multiple of patch 16"),
    (("--shards", "{shards}", "--steps", 2, "--config", "{tmp}/bad.yaml"), "optim: unknown field(s) lrr"),
    (("--steps", 2), "--shards is required"),
    (("export", "{tmp}", "--format", "videomae", "--out", "{tmp}/x.pth"), "checkpoint-last.pt: not found"),
])
def test_bad_inputs_are_one_line_errors(shards: Path, tmp_path: Path, train_cli, args: tuple, message: str) -> None:
    (tmp_path / "bad.yaml").write_text("optim:\n  lrr: 0.1\n")
    fill = {"tmp": tmp_path, "shards": shards}
    argv = [str(a).format(**fill) for a in args]
    if argv[0] != "export":
        argv += ["--out", str(tmp_path / "run"), "--device", "cpu"]
    code, out, err = train_cli(*argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message.format(**fill) in err and "Traceback" not in err


@pytest.fixture(scope="module")
def recipe_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 recipe samples of 4 x 32 px (zoom, affine, cutmix with Mixup) in 2 shards."""
    from synth.cli import main as synth_main

    out = tmp_path_factory.mktemp("recipes") / "data"
    assert synth_main(["render", "--images", "procedural:images=8,size=64", "--out", str(out), "--format", "recipe",
                       "--transforms", "zoom,affine,cutmix", "--num-videos", "16", "--frames", "4", "--size", "32",
                       "--shard-size", "8", "--workers", "0", "--no-progress"]) == 0
    return out


@pytest.mark.parametrize("render_on", ["device", "cpu"])
def test_recipe_shards_train_with_either_renderer(recipe_shards: Path, tmp_path: Path, train_cli,
                                                  render_on: str) -> None:
    run = tmp_path / "run"
    code, out, err = train_cli("--shards", recipe_shards, "--out", run, "--steps", 2, "--render-on", render_on,
                               "--fresh-motion", "--log-every", 1, *TINY)
    assert code == 0, err
    assert [r["step"] for r in records(run)] == [1, 2] and "trained steps 0 -> 2" in out
    saved = yaml.safe_load((run / "config.yaml").read_text())["data"]
    assert (saved["render_on"], saved["fresh_motion"], saved["frames"]) == (render_on, True, 4)


def test_images_train_without_shards_and_resume_exactly(image_folder: Path, tmp_path: Path, train_cli,
                                                        monkeypatch) -> None:
    import train.loop

    # 6 images, 2 clips a step: 3 steps an epoch, so the 5 steps cross into a second epoch of fresh motion.
    args = ("--images", image_folder, "--frames", 4, "--size", 32, "--transforms", "zoom,slide,cutmix",
            "--fresh-motion", "--steps", 5, "--save-every", 2, "--log-every", 1, "--lr", 1e-3, *TINY,
            "--batch-size", 2)
    assert train_cli(*args, "--out", tmp_path / "straight")[0] == 0
    saved = yaml.safe_load((tmp_path / "straight" / "config.yaml").read_text())
    assert saved["images"] == str(image_folder) and saved["shards"] == ""
    assert saved["motion"]["transforms"] == {"zoom": 1.0, "slide": 1.0, "cutmix": 1.0}

    with preempted(monkeypatch, train.loop, "forward_backward", at=3):
        train_cli(*args, "--out", tmp_path / "resumed")
    code, out, err = train_cli("--out", tmp_path / "resumed", "--resume", "--device", "cpu", "--no-progress")
    assert code == 0 and "trained steps 2 -> 5" in out, err
    assert records(tmp_path / "resumed") == [{**r, "time": s["time"], "clips_per_s": s["clips_per_s"],
                                              "data_wait": s["data_wait"]}
                                             for r, s in zip(records(tmp_path / "straight"),
                                                             records(tmp_path / "resumed"))]


@pytest.mark.parametrize("args, message", [
    (("--shards", "{shards}", "--fresh-motion"), "--fresh-motion needs recipe shards (synth render --format recipe) "
                                                 "or --images, these hold mp4 video"),
    (("--shards", "{shards}", "--images", "fractal"), "and --images fractal: train on one, not both"),
    (("--images", "{tmp}/nothing-here"), "no such folder, tar file or source"),
    (("--images", "fractal", "--transforms", "zoom,spin"), "unknown transform 'spin'"),
    (("--shards", "{shards}", "--render-on", "gpu"), "argument --render-on: invalid choice: 'gpu'"),
])
def test_bad_recipe_and_image_inputs_are_one_line_errors(shards: Path, tmp_path: Path, train_cli, args: tuple,
                                                         message: str) -> None:
    fill = {"tmp": tmp_path, "shards": shards}
    argv = [str(a).format(**fill) for a in args] + ["--steps", "2", "--out", str(tmp_path / "run"), *map(str, TINY)]
    code, out, err = train_cli(*argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message.format(**fill) in err and "Traceback" not in err


def test_a_user_error_inside_a_loader_worker_is_one_line(tmp_path: Path, train_cli) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        (bad / f"photo{i}.jpg").write_bytes(b"not a jpeg")
    # --workers 1 (the last --workers wins): the error is raised in a DataLoader worker process
    code, out, err = train_cli("--images", bad, "--steps", 1, "--out", tmp_path / "run", *TINY, "--workers", 1)
    assert code == 2
    assert err.count("\n") == 1 and "no usable image (3 tried, e.g. photo" in err and "Traceback" not in err
