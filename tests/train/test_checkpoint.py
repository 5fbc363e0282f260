"""Checkpoints: safe to load, written atomically, checked before use; the encoder exported in three layouts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers
import yaml

import train.checkpoint
from train.checkpoint import LAST
from train.cli import main
from train.convert import from_official
from train.export import load_encoder
from train.model import VideoMAE, VideoMAEConfig

TINY = ("--model", "tiny", "--batch-size", "4", "--workers", "0", "--device", "cpu", "--no-progress")


@pytest.fixture(scope="module")
def run(shards: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-step run saved every step, keeping 2 numbered checkpoints."""
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["--shards", str(shards), "--out", str(out), "--steps", "3", "--save-every", "1", "--keep", "2",
                 *TINY]) == 0
    return out


def trained_model(run: Path) -> VideoMAE:
    state = torch.load(run / LAST, weights_only=True)
    model = VideoMAE(VideoMAEConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    return model.eval()


def test_checkpoint_holds_the_whole_run_state_and_loads_with_weights_only(run: Path) -> None:
    state = torch.load(run / LAST, weights_only=True)
    assert state["step"] == 3 and state["config"] == yaml.safe_load((run / "config.yaml").read_text())
    assert {"model", "optimizer", "scaler", "model_config", "ranks"} <= set(state)
    assert state["optimizer"]["state"] and len(state["ranks"]) == 1
    rank = state["ranks"][0]
    assert set(rank["rng"]) == {"python", "numpy", "torch", "cuda"} and rank["data"] == {"epoch": 0, "taken": 3}
    assert sorted(p.name for p in run.glob("checkpoint-*.pt")) == [
        "checkpoint-00000002.pt", "checkpoint-00000003.pt", LAST]


def test_a_failed_save_leaves_the_previous_checkpoint_whole(run: Path, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / LAST).write_bytes((run / LAST).read_bytes())

    def disk_full(obj, f):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError):
        train.checkpoint.save(tmp_path, {"step": 9}, keep=0)
    assert train.checkpoint.load(tmp_path / LAST)["step"] == 3
    assert [p.name for p in tmp_path.iterdir()] == [LAST]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_checkpoint_is_a_one_line_error(run: Path, tmp_path: Path, train_cli, damage: str) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    (copy / "config.yaml").write_text((run / "config.yaml").read_text())
    data = (run / LAST).read_bytes()
    (copy / LAST).write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a checkpoint" * 100)
    code, _, err = train_cli("--out", copy, "--resume")
    assert code == 2 and err.count("\n") == 1
    assert f"{copy / LAST}: corrupt or truncated" in err
    code, _, err = train_cli("export", copy, "--format", "pseudomotion", "--out", tmp_path / "enc.pt")
    assert code == 2 and err.count("\n") == 1 and "corrupt or truncated" in err


def test_resuming_with_another_model_size_is_a_one_line_error(run: Path, tmp_path: Path, train_cli) -> None:
    code, _, err = train_cli("--out", run, "--resume", "--model", "small", "--steps", "4")
    assert code == 2 and err.count("\n") == 1
    assert "holds a different model, VideoMAE-tiny with" in err and "--model tiny" in err
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["size"] == "tiny"  # left as it was


def features(videos: torch.Tensor, encoder) -> torch.Tensor:
    with torch.no_grad():
        return encoder.forward_features(videos)


def test_export_in_all_three_formats_gives_the_trained_encoder(run: Path, tmp_path: Path, train_cli) -> None:
    model = trained_model(run)
    videos = torch.randn(2, 3, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    expected = features(videos, model)

    assert train_cli("export", run, "--format", "pseudomotion", "--out", tmp_path / "enc.pt")[0] == 0
    assert torch.equal(features(videos, load_encoder(tmp_path / "enc.pt")), expected)

    assert train_cli("export", run, "--format", "videomae", "--out", tmp_path / "official.pth")[0] == 0
    official = torch.load(tmp_path / "official.pth", weights_only=True)
    assert all(k.startswith("encoder.") for k in official["model"])
    fresh = VideoMAE(model.cfg)
    fresh.load_state_dict(from_official(official), strict=False)
    assert torch.equal(features(videos, fresh.eval()), expected)

    code, out, _ = train_cli("export", run / LAST, "--format", "transformers", "--out", tmp_path / "hf")
    assert code == 0 and "step 3" in out
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "videomae"
    hf = transformers.VideoMAEModel.from_pretrained(tmp_path / "hf", local_files_only=True).eval()
    with torch.no_grad():
        hidden = hf(videos.transpose(1, 2)).last_hidden_state  # transformers wants (B, T, C, H, W)
    assert torch.allclose(hidden, expected, atol=1e-5)

