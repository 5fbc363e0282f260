"""verify / info / preview / sources on a real small render."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sample_images import SMALL
from PIL import Image


@pytest.fixture
def dataset(synth_cli, image_folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    code, _, err = synth_cli("render", "--images", image_folder, "--out", out, "--shard-size", 4, *SMALL)
    assert code == 0, err
    return out


def test_verify_passes_then_catches_each_kind_of_damage(synth_cli, dataset: Path) -> None:
    assert synth_cli("verify", dataset)[:2] == (0, f"{dataset}: OK\n")
    shard = dataset / "pseudomotion-000001.tar"
    data = bytearray(shard.read_bytes())
    data[700] ^= 1
    shard.write_bytes(bytes(data))
    code, out, _ = synth_cli("verify", dataset)
    assert code == 1 and "pseudomotion-000001.tar: sha256 differs" in out
    shard.write_bytes(bytes(data[:1024]))
    assert "bytes, manifest says" in synth_cli("verify", dataset)[1]
    shard.unlink()
    assert "missing" in synth_cli("verify", dataset)[1]


def test_verify_refuses_hand_edited_manifest_paths(synth_cli, dataset: Path) -> None:
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["shards"][0]["path"] = "../elsewhere.tar"
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = synth_cli("verify", dataset)
    assert code == 2 and "leaves the dataset folder" in err


def test_info_summarises(synth_cli, dataset: Path) -> None:
    code, out, _ = synth_cli("info", dataset)
    assert code == 0 and "6 in 2 shards" in out and "4 x 32x32" in out and "zoom=1" in out
    code, out, _ = synth_cli("info", dataset, "--json")
    assert json.loads(out)["totals"]["samples"] == 6


def test_preview_writes_contact_sheet_and_animation(synth_cli, dataset: Path, tmp_path: Path) -> None:
    code, _, _ = synth_cli("preview", dataset, "--out", tmp_path / "p.png", "--count", 3)
    assert code == 0
    sheet = Image.open(tmp_path / "p.png")
    assert sheet.size == (4 * 32 + 3 * 4, 3 * 32 + 2 * 4)  # 4 frames across, 3 clips down
    gif = Image.open(tmp_path / "p.gif")
    assert gif.n_frames == 4


def test_commands_on_a_folder_without_manifest_are_one_line(synth_cli, tmp_path: Path) -> None:
    for cmd in ("verify", "info"):
        code, _, err = synth_cli(cmd, tmp_path)
        assert code == 2 and "no manifest" in err and err.count("\n") == 1


def test_sources_lists_builtins_and_cards(synth_cli, tmp_path: Path) -> None:
    code, out, _ = synth_cli("sources", "--data-root", tmp_path)
    assert code == 0 and "fractal" in out and "procedural" in out
    assert all(name in out for name in ("shaders1k", "pass", "fractaldb"))


def test_usage_errors_exit_2(synth_cli) -> None:
    assert synth_cli("render", "--images", "x")[0] == 2  # --out missing
    assert synth_cli("frobnicate")[0] == 2


def test_reproduce_rerenders_byte_identical_and_checks_the_source_first(synth_cli, dataset: Path,
                                                                        image_folder: Path, tmp_path: Path) -> None:
    code, out, err = synth_cli("reproduce", dataset, "--out", tmp_path / "again", "--workers", 0)
    assert code == 0 and "byte-identical" in out, err
    moved = tmp_path / "moved"
    image_folder.rename(moved)
    assert synth_cli("reproduce", dataset, "--images", moved, "--out", tmp_path / "a2", "--workers", 0)[0] == 0
    (moved / "img000.png").write_bytes((moved / "img001.jpg").read_bytes())
    code, _, err = synth_cli("reproduce", dataset, "--images", moved, "--out", tmp_path / "a3", "--workers", 0)
    assert code == 2 and "differ from the ones" in err
