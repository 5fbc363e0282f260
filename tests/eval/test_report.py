"""The report: the paper's table from result.json files, published rows marked, pre-training vs scratch."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from eval.evaluate import RESULT_FORMAT
from eval.published import PUBLISHED
from eval.report import report
from synth.errors import UserError

PMG = "PMG fractal:categories=8,instances=8 (64 clips; affine+zoom, mixup)"


def write_result(folder: Path, label: str, dataset: str, split: int, top1: float, model: str = "tiny") -> Path:
    """A result.json with the fields a report reads."""
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({
        "format": RESULT_FORMAT, "pretraining": {"label": label}, "model": model,
        "protocol": {"name": "finetune"}, "dataset": {"name": dataset, "split": split},
        "metrics": {"top1": top1, "top5": 100.0}}))
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [
        write_result(tmp_path / "pmg-sm", PMG, "synthmotion", 1, 30.0),
        write_result(tmp_path / "scratch-sm", "scratch", "synthmotion", 1, 25.5),
        *(write_result(tmp_path / f"pmg-ucf{s}", PMG, "ucf101", s, 60.0 + s) for s in (1, 2, 3)),
        write_result(tmp_path / "scratch-hmdb", "scratch", "hmdb51", 2, 12.0),
    ]


def test_report_writes_the_papers_table_with_published_rows_marked(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    text = report(runs, out)
    assert text == (out / "results.md").read_text()
    header = text.splitlines()[0]
    assert header == "| pre-training | model | protocol | UCF101 | HMDB51 | Diving48 | synthmotion (proxy) |"
    lines = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert lines[PMG].endswith("| 62.0 | – | – | 30.0 |")  # mean of the three UCF101 splits
    assert lines["scratch"].endswith("| – | 12.0 (split 2) | – | 25.5 |")
    assert lines["scratch (published)"] == "| scratch (published) | base | finetune | 51.4 | 18.0 | 17.9 | – |"
    assert lines["Shaders1k PMG (published)"].endswith("| 89.4 | 59.7 | 72.3 | – |")
    assert (f"synthmotion (proxy), VideoMAE-tiny finetune: {PMG} 30.0 vs scratch 25.5: +4.5 points "
            f"(pre-training helped)") in text
    assert "synthetic proxy benchmark" in text and PUBLISHED[0].source in text

    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["pretraining"] for r in rows] == [PMG, "scratch", "scratch", "Shaders1k PMG"]
    assert rows[0]["UCF101"] == "62.00" and rows[1]["HMDB51"] == "12.00" and rows[0]["Diving48"] == ""
    assert [r["source"].startswith("published") for r in rows] == [False, False, True, True]
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_later_result_for_the_same_cell_replaces_the_earlier(tmp_path: Path) -> None:
    first = write_result(tmp_path / "a", "scratch", "synthmotion", 1, 20.0)
    again = write_result(tmp_path / "b", "scratch", "synthmotion", 1, 22.0)
    assert "| scratch | tiny | finetune | – | – | – | 22.0 |" in report([first, again], tmp_path / "out")


def test_without_a_scratch_twin_nothing_is_compared_and_without_synthmotion_no_proxy_column(tmp_path: Path) -> None:
    text = report([write_result(tmp_path / "a", PMG, "diving48", 1, 40.0)], tmp_path / "out")
    assert "vs scratch" not in text and "synthmotion" not in text


def test_missing_or_foreign_results_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"nothing: not found; pass run folders"):
        report([tmp_path / "nothing"], tmp_path / "out")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(UserError, match="not an eval-vmae result"):
        report([tmp_path / "other.json"], tmp_path / "out")
