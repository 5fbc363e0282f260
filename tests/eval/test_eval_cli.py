"""`eval-vmae` as a user meets it: bad inputs are one line naming the input and the fix (exit 2), an undecodable
video is counted and skipped, and `report` prints the table it writes."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eval.evaluate import RESULT_FORMAT

SCRATCH_TINY = ("--checkpoint", "scratch", "--model", "tiny")


def one_line_error(code: int, err: str) -> str:
    assert code == 2 and err.count("\n") == 1, err
    return err


@pytest.fixture
def ucf101_copy(ucf101: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(ucf101, tmp_path / "ucf101"))


def test_a_command_is_required(eval_cli) -> None:
    err = one_line_error(*eval_cli("evaluate")[::2])
    assert "expected a command, one of finetune, linear, report" in err


def test_missing_split_file_names_it_and_where_to_get_it(ucf101_copy: Path, tmp_path: Path, eval_cli, tiny) -> None:
    (ucf101_copy / "ucfTrainTestlist" / "testlist01.txt").unlink()
    err = one_line_error(*eval_cli("finetune", *SCRATCH_TINY, "--dataset", "ucf101", "--root", ucf101_copy,
                                   "--out", tmp_path / "run", "--epochs", 1, *tiny)[::2])
    assert "testlist01.txt not found" in err and "UCF101TrainTestSplits" in err


def test_an_undecodable_video_is_counted_and_skipped(ucf101_copy: Path, tmp_path: Path, eval_cli, tiny) -> None:
    bad = ucf101_copy / "UCF-101" / "YoYo" / "v_YoYo_g01_c01.avi"  # a test video of split 1
    bad.write_bytes(b"not a video" * 100)
    with pytest.warns(RuntimeWarning, match="undecodable video"):
        code, _, err = eval_cli("finetune", *SCRATCH_TINY, "--dataset", "ucf101", "--root", ucf101_copy,
                                "--out", tmp_path / "run", "--epochs", 1, "--batch-size", 4, "--views", "2,1", *tiny)
    assert code == 0, err
    metrics = json.loads((tmp_path / "run" / "result.json").read_text())["metrics"]
    assert metrics["videos"] == 5 and metrics["videos_skipped"] == 1 and metrics["views_skipped"] == 2


def test_a_checkpoint_of_another_size_names_both(pretrained_run: Path, ucf101: Path, tmp_path: Path, eval_cli,
                                                 tiny) -> None:
    err = one_line_error(*eval_cli("finetune", "--checkpoint", pretrained_run, "--model", "small", "--dataset",
                                   "ucf101", "--root", ucf101, "--out", tmp_path / "run", "--epochs", 1, *tiny)[::2])
    assert "holds a VideoMAE-tiny encoder but --model asks for small" in err


def test_a_missing_checkpoint_path_is_named(ucf101: Path, tmp_path: Path, eval_cli, tiny) -> None:
    err = one_line_error(*eval_cli("linear", "--checkpoint", tmp_path / "nope.pt", "--dataset", "ucf101", "--root",
                                   ucf101, "--out", tmp_path / "run", *tiny)[::2])
    assert f"--checkpoint {tmp_path / 'nope.pt'}: not found" in err and "scratch" in err


def test_bad_views_and_an_odd_batch_with_mixup_are_usage_errors(ucf101: Path, tmp_path: Path, eval_cli,
                                                                 tiny) -> None:
    common = ("finetune", *SCRATCH_TINY, "--dataset", "ucf101", "--root", ucf101, "--out", tmp_path / "run", *tiny)
    assert "expected CLIPS,CROPS" in one_line_error(*eval_cli(*common, "--views", "5x3")[::2])
    assert "use an even batch or --no-mixup" in one_line_error(*eval_cli(*common, "--batch-size", 3)[::2])


def test_report_prints_and_writes_the_table(tmp_path: Path, eval_cli) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "result.json").write_text(json.dumps({
        "format": RESULT_FORMAT, "pretraining": {"label": "scratch"}, "model": "tiny", "protocol": {"name": "linear"},
        "dataset": {"name": "hmdb51", "split": 1}, "metrics": {"top1": 10.0, "top5": 40.0}}))
    code, out, err = eval_cli("report", run, "--out", tmp_path / "report")
    assert code == 0, err
    assert "| scratch | tiny | linear | – | 10.0 (split 1) | – |" in out
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"results.md", "results.csv", "results.png"}
    assert "not found" in one_line_error(*eval_cli("report", tmp_path / "missing", "--out", tmp_path / "r")[::2])
