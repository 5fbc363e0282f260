"""`eval-vmae report`: runs' result.json files as the paper's table, with the published rows beside them.

Rows are pre-training data (or scratch) x model size x protocol; columns are UCF101, HMDB51 and Diving48, then
synthmotion (proxy) and any other dataset present. A cell is the top-1 accuracy, averaged over the official splits
run (the paper's form is the mean over splits where all three exist; a cell from fewer says which). Published rows
are marked. Every pre-trained row is compared with the scratch row of the same model, protocol and dataset,
difference printed, so a reader sees at once whether pre-training helped.

Writes results.md (the table, the comparison and the notes), results.csv (the table) and results.png (a bar
chart).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.evaluate import RESULT, RESULT_FORMAT
from eval.pretrained import SCRATCH
from eval.published import PUBLISHED
from eval.synthmotion import NAME as SYNTHMOTION
from eval.synthmotion import PROXY_NOTE
from synth.errors import UserError
from synth.shards import write_atomic

COLUMNS = {"ucf101": "UCF101", "hmdb51": "HMDB51", "diving48": "Diving48", SYNTHMOTION: "synthmotion (proxy)"}
PAPER_DATASETS = ("ucf101", "hmdb51", "diving48")
MISSING = "–"


@dataclass
class Row:
    """One table row: splits' top-1 per dataset, or a published figure per dataset."""

    label: str
    model: str
    protocol: str
    published: str | None = None  # the source, for a published row
    splits: dict[str, dict[int, float]] = field(default_factory=dict)  # dataset -> split -> top-1

    @property
    def name(self) -> str:
        return f"{self.label} (published)" if self.published else self.label

    @property
    def scratch(self) -> bool:
        return self.label == SCRATCH

    def top1(self, dataset: str) -> float | None:
        """Mean over the splits run, or None."""
        values = list(self.splits.get(dataset, {}).values())
        return sum(values) / len(values) if values else None

    def cell(self, dataset: str) -> str:
        splits = self.splits.get(dataset, {})
        if not splits:
            return MISSING
        value = f"{self.top1(dataset):.1f}"
        if self.published or dataset not in ("ucf101", "hmdb51") or sorted(splits) == [1, 2, 3]:
            return value
        return f"{value} (split{'s' if len(splits) > 1 else ''} {','.join(map(str, sorted(splits)))})"


# ---------------------------------------------------------------------------------------------------------- input

def load_result(path: Path) -> dict[str, Any]:
    """RUN/result.json (or the file itself) as written by `eval-vmae finetune|linear`."""
    file = path / RESULT if path.is_dir() else path
    try:
        record = json.loads(file.read_text())
    except FileNotFoundError:
        raise UserError(f"{file}: not found; pass run folders that `eval-vmae finetune` or `linear` finished") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{file}: unreadable ({e}); run the evaluation again") from None
    if not isinstance(record, dict) or record.get("format") != RESULT_FORMAT:
        raise UserError(f"{file}: not an eval-vmae result ({RESULT_FORMAT}); pass eval-vmae run folders")
    return record


def build_rows(records: list[dict[str, Any]]) -> list[Row]:
    """Our rows in the order first seen (a later result for the same row, dataset and split replaces an earlier
    one), then the published rows."""
    rows: dict[tuple[str, str, str], Row] = {}
    for r in records:
        key = (r["pretraining"]["label"], r["model"], r["protocol"]["name"])
        row = rows.setdefault(key, Row(*key))
        row.splits.setdefault(r["dataset"]["name"], {})[r["dataset"]["split"]] = r["metrics"]["top1"]
    published = [Row(p.label, p.model, p.protocol, p.source, {d: {1: v} for d, v in p.top1.items()})
                 for p in PUBLISHED]
    return list(rows.values()) + published


def columns(rows: list[Row]) -> list[str]:
    """The paper's three datasets, then synthmotion and any other dataset our rows have."""
    present = {d for row in rows if not row.published for d in row.splits}
    extra = sorted(present - set(PAPER_DATASETS) - {SYNTHMOTION})
    return [*PAPER_DATASETS, *([SYNTHMOTION] if SYNTHMOTION in present else []), *extra]


def title(dataset: str) -> str:
    return COLUMNS.get(dataset, dataset)


# -------------------------------------------------------------------------------------------------------- output

def comparisons(rows: list[Row], datasets: list[str]) -> list[str]:
    """One line per (pre-trained row, dataset) that has a scratch twin of ours: both numbers and the difference."""
    lines = []
    for row in rows:
        if row.published or row.scratch:
            continue
        twin = next((r for r in rows if r.scratch and not r.published and (r.model, r.protocol) ==
                     (row.model, row.protocol)), None)
        for d in datasets:
            ours, base = row.top1(d), twin.top1(d) if twin else None
            if ours is None or base is None:
                continue
            diff = ours - base
            verdict = ("pre-training helped" if diff > 0 else "pre-training did not help" if diff < 0
                       else "no difference")
            lines.append(f"{title(d)}, VideoMAE-{row.model} {row.protocol}: {row.label} {ours:.1f} vs scratch "
                         f"{base:.1f}: {diff:+.1f} points ({verdict})")
    return lines


def markdown(rows: list[Row], datasets: list[str]) -> str:
    header = ["pre-training", "model", "protocol", *map(title, datasets)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([row.name, row.model, row.protocol, *(row.cell(d) for d in datasets)]) + " |"
              for row in rows]
    notes = ["Top-1 accuracy (%), multi-view test, mean over the splits run."]
    compared = comparisons(rows, datasets)
    if compared:
        notes += ["", "Pre-training vs scratch (same model, protocol and schedule):", *(f"- {c}" for c in compared)]
    sources = sorted({row.published for row in rows if row.published})
    notes += ["", *(f"(published) {s}; ViT-B at 224 px, not comparable with small or proxy runs." for s in sources)]
    if SYNTHMOTION in datasets:
        notes += ["", f"Note: {PROXY_NOTE}."]
    return "\n".join(lines + [""] + notes) + "\n"


def csv_text(rows: list[Row], datasets: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["pretraining", "model", "protocol", "source", *map(title, datasets)])
    for row in rows:
        values = [f"{v:.2f}" if (v := row.top1(d)) is not None else "" for d in datasets]
        writer.writerow([row.label, row.model, row.protocol, f"published: {row.published}" if row.published
                         else "this project", *values])
    return out.getvalue()


def chart(rows: list[Row], datasets: list[str], path: Path) -> None:
    """Grouped bars: datasets along x, one bar per row; published rows hatched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.8 * len(datasets)), 4.0))
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        xs = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(datasets))]
        heights = [row.top1(d) or 0.0 for d in datasets]
        ax.bar(xs, heights, width, label=f"{row.name} [{row.model}, {row.protocol}]",
               hatch="//" if row.published else None, alpha=0.6 if row.published else 1.0)
    ax.set_xticks(range(len(datasets)), [title(d) for d in datasets])
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1))  # below the axes: bars stay visible
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def report(runs: list[Path], out: Path) -> str:
    """Write results.md, results.csv and results.png to out; returns the markdown."""
    rows = build_rows([load_result(run) for run in runs])
    datasets = columns(rows)
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, datasets)
    write_atomic(out / "results.md", text.encode())
    write_atomic(out / "results.csv", csv_text(rows, datasets).encode())
    chart(rows, datasets, out / "results.png")
    return text
