"""Fine-tuning and the linear probe end to end on CPU with a tiny model: they learn, record, resume and load every
checkpoint kind alike."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
import transformers
from preempt import preempted

import eval.finetune
from eval.classifier import build_encoder
from eval.pretrained import load_pretrained
from train import checkpoint
from train.cli import main as train_main

SCRATCH_TINY = ("--checkpoint", "scratch", "--model", "tiny")


def result(run: Path) -> dict:
    return json.loads((run / "result.json").read_text())


@pytest.mark.slow
def test_finetune_on_synthmotion_beats_chance(tmp_path: Path, eval_cli, tiny) -> None:
    # 600 class-balanced training clips for 16 epochs, about 40 s on two cores; all 360 test clips, so chance
    # (8.3%) has a standard error of 1.5 points. The head starts at full scale (VideoMAE's 0.001 stalls a run this
    # short) and 4-frame clips keep the model small. Seeds 0, 1, 2 give 22-32%.
    code, out, err = eval_cli("finetune", *SCRATCH_TINY, "--dataset", "synthmotion", "--root", tmp_path / "sm",
                              "--out", tmp_path / "run", "--epochs", 16, "--batch-size", 16, "--lr", 1e-3,
                              "--layer-decay", 1.0, "--head-init-scale", 1, "--no-mixup", "--max-train", 600,
                              *tiny, "--num-workers", 1)
    assert code == 0, err
    record = result(tmp_path / "run")
    assert record["dataset"] == {**record["dataset"], "name": "synthmotion", "classes": 12, "train_videos": 600,
                                 "test_videos": 360}
    assert record["proxy"] and "synthetic proxy" in record["note"] and "synthetic proxy" in out
    assert record["metrics"]["top1"] > 2 * 100 / 12, record["metrics"]  # twice chance: 6 standard errors above it


def test_one_epoch_on_ucf101_writes_the_result(ucf101: Path, tmp_path: Path, eval_cli, tiny) -> None:
    run = tmp_path / "run"
    code, out, err = eval_cli("finetune", *SCRATCH_TINY, "--dataset", "ucf101", "--root", ucf101, "--split", 1,
                              "--out", run, "--epochs", 1, "--batch-size", 4, *tiny)
    assert code == 0, err
    record = result(run)
    assert record["protocol"] == {"name": "finetune", "epochs": 1, "views": [5, 3], "frames": 4, "size": 32,
                                  "rate": 4}
    assert record["dataset"]["name"] == "ucf101" and record["dataset"]["split"] == 1
    assert record["dataset"]["train_videos"] == 12 and record["metrics"]["videos"] == 6
    assert record["checkpoint"] == {"path": "scratch", "kind": "scratch"} and record["model"] == "tiny"
    assert 0 <= record["metrics"]["top1"] <= record["metrics"]["top5"] == 100.0  # 3 classes: top-5 is certain
    assert record["config"]["data"]["root"] == str(ucf101) and record["wall_s"] > 0 and record["device"]
    assert not record["proxy"] and (run / "config.yaml").is_file() and (run / checkpoint.LAST).is_file()
    assert "ucf101 split 1: top-1" in out


def test_resume_repeats_an_uninterrupted_run(ucf101: Path, tmp_path: Path, eval_cli, monkeypatch, tiny) -> None:
    # Stochastic depth and random clips draw from the global RNGs; the checkpoint after epoch 1 restores them.
    args = ("finetune", *SCRATCH_TINY, "--dataset", "ucf101", "--root", ucf101, "--epochs", 2, "--batch-size", 4,
            "--drop-path", 0.2, "--views", "1,1", *tiny)
    assert eval_cli(*args, "--out", tmp_path / "straight")[0] == 0

    with preempted(monkeypatch, eval.finetune, "train_epoch", at=1):  # in epoch 2
        eval_cli(*args, "--out", tmp_path / "resumed")
    assert eval_cli(*args, "--out", tmp_path / "resumed")[0] == 2  # refuses to train over it
    assert eval_cli(*args, "--out", tmp_path / "resumed", "--resume")[0] == 0

    straight, resumed = (torch.load(tmp_path / r / checkpoint.LAST, weights_only=True)["model"]
                         for r in ("straight", "resumed"))
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert result(tmp_path / "resumed")["metrics"]["top1"] == result(tmp_path / "straight")["metrics"]["top1"]


def test_linear_probe_writes_the_result_and_reuses_its_features(ucf101: Path, tmp_path: Path, eval_cli, tiny) -> None:
    run = tmp_path / "run"
    args = ("linear", *SCRATCH_TINY, "--dataset", "ucf101", "--root", ucf101, "--out", run, "--epochs", 20,
            "--views", "2,2", *tiny)
    code, out, err = eval_cli(*args)
    assert code == 0, err
    record = result(run)
    assert record["protocol"]["name"] == "linear" and record["protocol"]["views"] == [2, 2]
    assert record["metrics"]["videos"] == 6 and 0 <= record["metrics"]["top1"] <= 100
    test_features = torch.load(run / "features-test.pt", weights_only=True)
    assert test_features["features"].shape == (6 * 4, 192)  # every view of every test video, tiny's width
    stamp = (run / "features-train.pt").stat().st_mtime_ns
    assert eval_cli(*args, "--resume")[0] == 0
    assert (run / "features-train.pt").stat().st_mtime_ns == stamp
    assert result(run)["metrics"] == record["metrics"]


@torch.no_grad()
def test_every_checkpoint_kind_gives_the_same_encoder_features(pretrained_run: Path, tmp_path: Path) -> None:
    state = checkpoint.load(pretrained_run / checkpoint.LAST)
    for fmt, out in (("pseudomotion", "enc.pt"), ("videomae", "official.pth"), ("transformers", "hf")):
        assert train_main(["export", str(pretrained_run), "--format", fmt, "--out", str(tmp_path / out)]) == 0
    full_official = tmp_path / "official-full.pth"  # a whole pre-training dict, with its arguments, as MCG-NJU ship
    torch.save({"model": state["model"], "epoch": 1, "args": argparse.Namespace(model="tiny")}, full_official)
    hf_pretraining = tmp_path / "hf-pretraining"  # transformers' VideoMAEForPreTraining layout
    config = transformers.VideoMAEConfig.from_pretrained(tmp_path / "hf")
    model = transformers.VideoMAEForPreTraining(config)
    model.videomae.load_state_dict(transformers.VideoMAEModel.from_pretrained(tmp_path / "hf").state_dict())
    model.save_pretrained(hf_pretraining)

    videos = torch.randn(2, 3, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    sources = [pretrained_run, pretrained_run / checkpoint.LAST, tmp_path / "enc.pt", tmp_path / "official.pth",
               full_official, tmp_path / "hf", hf_pretraining]
    loaded = [load_pretrained(str(s)) for s in sources]
    assert [p.kind for p in loaded] == ["pseudomotion", "pseudomotion", "pseudomotion-encoder", "videomae",
                                        "videomae", "transformers", "transformers"]
    features = [build_encoder(p, size=None, frames=4, img_size=32).eval().forward_features(videos) for p in loaded]
    assert all(torch.allclose(f, features[0], atol=1e-5) for f in features[1:])
    assert loaded[0].pretraining["data"]["clips"] == 8 and loaded[0].pretraining["step"] == 2
    assert loaded[2].pretraining["data"] == loaded[0].pretraining["data"]  # the export keeps the run's config
    # Another grid: the fixed position table is recomputed, the weights are the same.
    assert build_encoder(loaded[0], size="tiny", frames=8, img_size=48).forward_features(
        torch.randn(1, 3, 8, 48, 48)).shape == (1, 4 * 3 * 3, 192)
