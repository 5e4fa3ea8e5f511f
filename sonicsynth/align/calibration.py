"""Calibration of a built-in aligner's boundary shifts on utterances whose phone timings are known.

An aligner trained from transcripts alone places boundaries where the spectrum changes, which is
not exactly where an engine (or a human labeller) puts them. On the demo voices the built-in HMM and
CTC aligners place boundaries between phones a few ms late, on every voice alike, and the edges of
pauses 10-30 ms early (a phone's fading tail goes to the pause). So one constant per boundary kind
(`base.BOUNDARY_KINDS`) is measured here on a held-out split (the val split of the engine voices:
never the split the benchmark reports on), as the shift that puts the most of that kind's boundaries
within 20 ms (`accuracy.best_boundary_shifts`; a kind with fewer than 20 boundaries there takes the
shift of all of them), and recorded in a new package of the aligner under the config key
`boundary_shift_sec`, which the aligner applies from then on (`sonicsynth.models.aligner.inference`).
The shifts are searched within +-30 ms: the pause edges' biases on the demo's val split reach -28 ms.

    python -m sonicsynth.align.calibration ctc <package> --out <calibrated package> [--split val]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sonicsynth.align.accuracy import (
    BoundaryMatch,
    best_boundary_shift,
    best_boundary_shifts,
    compare_alignments,
    summarize_boundary_errors,
    summarize_by_kind,
    timed_references,
)
from sonicsynth.align.base import Aligner, AlignmentError
from sonicsynth.data.manifest import Alignment, Utterance

CALIBRATED_BACKENDS = ("ctc", "hmm")


def phone_matches(aligner: Aligner, references: Sequence[tuple[Utterance, Alignment]],
                  manifest_dir: Path) -> tuple[list[BoundaryMatch], dict[str, str]]:
    """The paired phone boundaries of every reference utterance the aligner aligns, and the failures."""
    matches, failures = [], {}
    for utterance, reference in references:
        try:
            hypothesis = aligner.align(utterance.audio_file(manifest_dir), utterance.text)
        except AlignmentError as error:
            failures[utterance.id] = error.reason
            continue
        matches.append(compare_alignments(reference, hypothesis)[0])
    return matches, failures


def calibrate_package(backend: str, package_dir: str | Path, out_dir: str | Path, manifest: str | Path,
                      split: str = "val", engines: Sequence[str] = ("mbrola", "festival"),
                      tolerance_ms: float = 20.0) -> dict[str, Any]:
    """Measure the aligner package's best boundary shifts on `split` and write the package again at
    `out_dir` with them recorded; the calibration report is returned and kept in the new manifest."""
    from sonicsynth.export.package import load_package, save_package
    from sonicsynth.models.aligner.inference import BOUNDARY_SHIFT_KEY, CTCAligner, HMMAligner
    from sonicsynth.text import TextFrontend

    aligner_class = {"ctc": CTCAligner, "hmm": HMMAligner}[backend]
    manifest = Path(manifest)
    references = timed_references(manifest, split, engines)
    if not references:
        raise ValueError(f"{manifest}: no {split} utterances with reference timings from {', '.join(engines)}")
    package = load_package(package_dir, family=aligner_class.family_module.family)
    # Measured from the raw boundaries, whatever shift the package already records.
    aligner = aligner_class(package.config, package.state_dict, TextFrontend(), boundary_shift_sec=0.0,
                            origin=package.path)
    matches, failures = phone_matches(aligner, references, manifest.parent)
    single_ms, single_share = best_boundary_shift(matches, tolerance_ms)
    shifts_ms, share = best_boundary_shifts(matches, tolerance_ms)
    report = {
        "manifest": str(manifest), "split": split, "engines": sorted(engines),
        "utterances": len(matches), "failed": failures, "tolerance_ms": tolerance_ms,
        "uncalibrated": summarize_boundary_errors(matches),
        "uncalibrated_by_kind": summarize_by_kind(matches),
        "boundary_shift_ms": shifts_ms,
        f"within_{tolerance_ms:g}ms_calibrated": round(share, 4),
        # What one shift for every kind would give, for comparison.
        "single_boundary_shift_ms": single_ms,
        f"within_{tolerance_ms:g}ms_single_shift": round(single_share, 4),
    }
    config = {**package.config, BOUNDARY_SHIFT_KEY: {kind: ms / 1000 for kind, ms in shifts_ms.items()}}
    source = {**package.manifest.get("source", {}), "calibrated_from": str(package.path), "calibration": report}
    save_package(out_dir, package.state_dict, config, package.family, package.compatibility_id, source=source)
    return report


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=CALIBRATED_BACKENDS)
    parser.add_argument("package", type=Path, help="the trained aligner's package directory")
    parser.add_argument("--out", type=Path, required=True, help="where to write the calibrated package")
    parser.add_argument("--manifest", type=Path, default=Path("data/demo/manifest.jsonl"))
    parser.add_argument("--split", default="val", help="the held-out split to calibrate on (default: val)")
    parser.add_argument("--engines", nargs="+", default=["mbrola", "festival"],
                        help="engines whose timings are the reference, by source prefix")
    args = parser.parse_args(argv)
    report = calibrate_package(args.backend, args.package, args.out, args.manifest, args.split, args.engines)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
