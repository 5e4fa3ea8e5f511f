"""Evaluation reports: one JSON document, a Markdown summary and PNG figures in an output directory.

Every entry point under `eval/` writes its results through these helpers, so reports look alike and
are never left half-written (each file is written to a temporary sibling and renamed).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from sonicsynth.utils.atomic import atomic_write
from sonicsynth.utils.plotting import save_figure


def summarize(rows: Sequence[Mapping[str, object]], metrics: Sequence[str]) -> dict[str, dict[str, float | int]]:
    """Mean, median, standard deviation and count of each metric over the rows where it is a finite number."""
    summary = {}
    for metric in metrics:
        values = [float(r[metric]) for r in rows if isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric])]
        if values:
            summary[metric] = {
                "mean": float(np.mean(values)),
                "median": float(np.median(values)),
                "std": float(np.std(values)),
                "count": len(values),
            }
        else:
            summary[metric] = {"mean": None, "median": None, "std": None, "count": 0}
    return summary


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Lines of a Markdown table; floats with 4 significant decimals, None as n/a."""

    def cell(value: object) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, float):
            return f"{value:.4f}"
        return str(value)

    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(cell(v) for v in row) + " |" for row in rows],
    ]


def summary_markdown(title: str, facts: Sequence[str], summary: Mapping[str, Mapping[str, object]], notes: Sequence[str] = ()) -> str:
    """A report page: title, bullet facts, a table of the metric summary, then notes."""
    table = markdown_table(
        ["metric", "mean", "median", "std", "count"],
        [[m, s["mean"], s["median"], s["std"], s["count"]] for m, s in summary.items()],
    )
    return "\n".join([f"# {title}", "", *[f"- {f}" for f in facts], "", *table, "", *notes, ""])


def plot_distributions(rows: Sequence[Mapping[str, object]], metrics: Sequence[str], path: str | Path) -> Path | None:
    """Histogram of each metric over the rows (one panel per metric); None when nothing is plottable."""
    import matplotlib.pyplot as plt

    columns = {
        m: [float(r[m]) for r in rows if isinstance(r.get(m), (int, float)) and math.isfinite(r[m])] for m in metrics
    }
    columns = {m: v for m, v in columns.items() if v}
    if not columns:
        return None
    fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 3), squeeze=False)
    for ax, (metric, values) in zip(axes[0], columns.items()):
        ax.hist(values, bins=min(20, max(5, len(values))))
        ax.set_title(metric)
        ax.set_xlabel("per item")
    fig.tight_layout()
    return save_figure(fig, path)


def named_path(text: str) -> tuple[str, Path]:
    """A report's `NAME=PATH` command-line argument (e.g. `--model base=<package>`) as (name, path)."""
    name, separator, path = text.partition("=")
    if not separator or not name or not path:
        raise ValueError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


def run_report_command(out_dir: str | Path, build: Callable[[], Mapping[str, object]],
                       headline: Sequence[str] = ()) -> int:
    """The body of an `eval/` report's `main()`: build the report, print its summary as JSON (the
    metric means per model, and the report's `headline` keys), return the exit code.

    A missing file or an input the report refuses (FileNotFoundError, ValueError) is one line on
    stderr and exit code 1, not a traceback.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = build()
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    printed = {"output_dir": str(out_dir), **{key: report[key] for key in headline},
               "summary": {model: {metric: values.get("mean") for metric, values in summary.items()}
                           for model, summary in report["summary"].items()}}
    print(json.dumps(printed, indent=2))
    return 0


def write_report(out_dir: str | Path, name: str, report: Mapping[str, object], markdown: str) -> dict[str, Path]:
    """Write `<name>.json` and `<name>.md` into `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    paths = {"json": out_dir / f"{name}.json", "markdown": out_dir / f"{name}.md"}
    with atomic_write(paths["json"], "w") as f:
        json.dump(report, f, indent=2, default=_json_default)
        f.write("\n")
    with atomic_write(paths["markdown"], "w") as f:
        f.write(markdown)
    return paths


def _json_default(value: object) -> object:
    # numpy scalars and arrays, Paths: what metric code naturally returns.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to a JSON report")
