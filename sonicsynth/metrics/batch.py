"""Scoring a set of files for the eval entry points: find inputs, pair them with references, score
each one on its own (a bad file becomes a row with its error, never the end of the run), and
write the report (JSON + Markdown + distribution plot) through `sonicsynth.metrics.report`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sonicsynth.audio.io import AudioError
from sonicsynth.metrics.base import MetricError
from sonicsynth.metrics.report import plot_distributions, summarize, summary_markdown, write_report

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
ITEM_ERRORS = (MetricError, AudioError, FileNotFoundError)


def find_files(inputs: Iterable[str | Path], suffixes: Sequence[str] = AUDIO_SUFFIXES) -> list[Path]:
    """Files named directly, plus those under named directories (recursively) with one of `suffixes`."""
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(p for p in item.rglob("*") if p.suffix.lower() in suffixes)
        else:
            found.append(item)  # a missing file becomes that item's error
    return found


def reference_for(path: Path, root: Path | None, references: Path) -> Path | None:
    """The reference with the same path relative to `root` under `references`, else the same stem."""
    if root is not None and root in path.parents:
        candidate = references / path.relative_to(root)
        if candidate.exists():
            return candidate
    matches = [p for p in references.rglob(f"{path.stem}.*") if p.suffix.lower() in AUDIO_SUFFIXES]
    return matches[0] if len(matches) == 1 else None


def score_each(items: Sequence[Path], score: Callable[[Path], dict], desc: str) -> list[dict]:
    """One row per item: {"file", **score(item)} or {"file", "error"}; shows a progress bar."""
    from tqdm import tqdm

    rows = []
    for item in tqdm(items, desc=desc, unit="file"):
        try:
            rows.append({"file": str(item), **score(item)})
        except ITEM_ERRORS as error:
            rows.append({"file": str(item), "error": str(error)})
    return rows


def default_output_dir(root: Path, name: str) -> Path:
    return root / "logs" / "eval" / name / time.strftime("%Y-%m-%d_%H-%M-%S")


def write_batch_report(out_dir: Path, name: str, title: str, rows: list[dict], metrics: Sequence[str],
                       facts: Sequence[str], notes: Sequence[str] = (), extra: dict | None = None) -> dict:
    """`<name>.json`, `<name>.md` and `<name>_distributions.png`; returns the JSON document."""
    failed = [r for r in rows if "error" in r]
    summary = summarize(rows, metrics)
    report = {**(extra or {}), "files": len(rows), "scored": len(rows) - len(failed), "failed": len(failed),
              "summary": summary, "per_file": rows}
    facts = [*facts, f"{report['scored']} of {report['files']} files scored",
             *[f"not scored: `{r['file']}`: {r['error']}" for r in failed[:20]]]
    write_report(out_dir, name, report, summary_markdown(title, facts, summary, notes))
    plot_distributions(rows, metrics, out_dir / f"{name}_distributions.png")
    return report
