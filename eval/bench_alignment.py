"""Forced-alignment accuracy and speed against engine ground truth; prints one JSON document.

Every backend in `sonicsynth.align.BACKENDS` aligns the held-out utterances of the demo corpus whose
phone timings are known from the synthesis engine (by default the test split of the MBROLA and
festival voices). Boundaries are compared as `sonicsynth.align.accuracy` describes: phones through
the ARPAbet mapping tables of `sonicsynth.align.phone_sets` and an edit-distance alignment of the two
phone sequences; words (where the engine reports them: festival) by matching word labels. For phones
and words it reports the number of boundaries paired (and how many the reference has), the mean and
median absolute boundary error in ms, the mean and median signed error (positive: late; what
`sonicsynth.align.calibration` corrects), and the share within 20 ms and 40 ms, overall and per engine,
and for phones per boundary kind too (between phones, into a pause, out of a pause);
and the speed in seconds of audio aligned per second of compute (audio loading included, model
loading reported separately).

One alignment is drawn over its spectrogram as a PNG beside the JSON report (or at --plot).

    python eval/bench_alignment.py                                  # data/demo, test split
    python eval/bench_alignment.py --engines mbrola festival flite --out reports/alignment.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sonicsynth.align import BACKENDS, Aligner, AlignmentError, create_aligner
from sonicsynth.align.accuracy import (
    BoundaryMatch,
    compare_alignments,
    engine_of,
    summarize_boundary_errors,
    summarize_by_kind,
    timed_references,
)
from sonicsynth.align.phone_sets import map_to_arpabet
from sonicsynth.align.plot import plot_alignment
from sonicsynth.audio import load_audio
from sonicsynth.data.manifest import Alignment, Utterance
from sonicsynth.utils.atomic import atomic_write
from sonicsynth.utils.plotting import save_figure

DEFAULT_MANIFEST = Path(__file__).resolve().parents[1] / "data" / "demo" / "manifest.jsonl"
DEFAULT_ENGINES = ("mbrola", "festival")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="corpus manifest (default: data/demo)")
    parser.add_argument("--split", default="test", help="manifest split to evaluate (default: test)")
    parser.add_argument(
        "--engines", nargs="+", default=list(DEFAULT_ENGINES),
        help="synthesis engines whose timings are the reference, by source prefix (default: mbrola festival)",
    )  # fmt: skip
    parser.add_argument(
        "--backends", nargs="+", choices=sorted(BACKENDS), default=None,
        help="aligners (default: pocketsphinx, and hmm / ctc when their model is given)"
    )
    parser.add_argument("--hmm-model", type=Path, help="trained HMM aligner (package dir or training .ckpt)")
    parser.add_argument("--ctc-model", type=Path, help="trained CTC aligner (package dir or training .ckpt)")
    parser.add_argument("--out", type=Path, help="also write the JSON here, and the plot beside it as .png")
    parser.add_argument("--plot", type=Path, help="where to write the alignment plot (default: beside --out)")
    parser.add_argument("--plot-utterance", help="utterance id to plot (default: the first evaluated)")
    args = parser.parse_args(argv)
    models = {"hmm": args.hmm_model, "ctc": args.ctc_model}
    if args.backends is None:
        args.backends = ["pocketsphinx", *(name for name, model in models.items() if model)]
    for name, model in models.items():
        if name in args.backends and model is None:
            parser.error(f"the {name} backend needs --{name}-model")
    args.models = models
    return args


def evaluate_backend(
    aligner: Aligner, references: list[tuple[Utterance, Alignment]], manifest_dir: Path
) -> tuple[dict[str, Any], dict[str, Alignment]]:
    """The backend's report section, and its alignments by utterance id (for the plot)."""
    phone_matches: dict[str, list[BoundaryMatch]] = defaultdict(list)
    word_matches: dict[str, list[BoundaryMatch]] = defaultdict(list)
    utterance_counts: dict[str, int] = defaultdict(int)
    failures: dict[str, str] = {}
    hypotheses: dict[str, Alignment] = {}
    audio_seconds = compute_seconds = 0.0
    for utterance, reference in references:
        started = time.perf_counter()
        try:
            hypothesis = aligner.align(utterance.audio_file(manifest_dir), utterance.text)
        except AlignmentError as error:
            failures[utterance.id] = error.reason
            continue
        compute_seconds += time.perf_counter() - started
        audio_seconds += utterance.duration
        hypotheses[utterance.id] = hypothesis
        engine = engine_of(utterance)
        utterance_counts[engine] += 1
        phones, words = compare_alignments(reference, hypothesis)
        phone_matches[engine].append(phones)
        if words is not None:
            word_matches[engine].append(words)

    def section(engines: Sequence[str]) -> dict[str, Any]:
        words = [match for engine in engines for match in word_matches[engine]]
        phones = [match for engine in engines for match in phone_matches[engine]]
        return {
            "utterances": sum(utterance_counts[engine] for engine in engines),
            "phones": summarize_boundary_errors(phones),
            "phones_by_kind": summarize_by_kind(phones),
            "words": summarize_boundary_errors(words) if words else None,
        }

    engines = sorted(utterance_counts)
    report = {
        **section(engines),
        "failed": failures,
        "audio_seconds": round(audio_seconds, 3),
        "compute_seconds": round(compute_seconds, 3),
        "audio_seconds_per_compute_second": round(audio_seconds / compute_seconds, 2) if compute_seconds else None,
        "by_engine": {engine: section([engine]) for engine in engines},
    }
    return report, hypotheses


def write_plot(
    path: Path, utterance: Utterance, manifest_dir: Path, reference: Alignment, hypotheses: dict[str, Alignment]
) -> Path:
    audio = load_audio(utterance.audio_file(manifest_dir))
    tiers: dict[str, list[tuple[str, float, float]]] = {
        f"reference phones\n({reference.source}, ARPAbet)": [
            (p.phone, p.start, p.end) for p in map_to_arpabet(reference.phones, reference.phone_set)
        ]
    }
    if reference.words is not None:
        tiers["reference words"] = list(reference.words)
    for backend, hypothesis in hypotheses.items():
        tiers[f"{backend} phones"] = list(hypothesis.phones)
        tiers[f"{backend} words"] = list(hypothesis.words or ())
    figure = plot_alignment(audio.samples, audio.sample_rate, tiers, title=f"{utterance.id}: {utterance.text}")
    return save_figure(figure, path)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    manifest_dir = args.manifest.parent
    references = timed_references(args.manifest, args.split, args.engines)
    if not references:
        sys.exit(f"{args.manifest}: no {args.split} utterances with reference timings from {', '.join(args.engines)}")
    report: dict[str, Any] = {
        "benchmark": "forced-alignment boundary accuracy against synthesis-engine timings",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "manifest": str(args.manifest),
        "split": args.split,
        "engines": sorted({engine_of(utterance) for utterance, _ in references}),
        "reference_utterances": len(references),
        "backends": {},
    }
    alignments_by_backend: dict[str, dict[str, Alignment]] = {}
    for name in args.backends:
        started = time.perf_counter()
        aligner = create_aligner(name, **({"model": args.models[name]} if args.models.get(name) else {}))
        setup_seconds = time.perf_counter() - started
        section, alignments_by_backend[name] = evaluate_backend(aligner, references, manifest_dir)
        report["backends"][name] = {"setup_seconds": round(setup_seconds, 3), **section}

    plot_path = args.plot or (args.out.with_suffix(".png") if args.out else None)
    if plot_path is not None:
        plotted_id = args.plot_utterance or references[0][0].id
        chosen = [(u, r) for u, r in references if u.id == plotted_id]
        if not chosen:
            sys.exit(f"--plot-utterance {plotted_id!r} is not among the evaluated utterances")
        utterance, reference = chosen[0]
        hypotheses = {name: found[plotted_id] for name, found in alignments_by_backend.items() if plotted_id in found}
        report["plot"] = str(write_plot(plot_path, utterance, manifest_dir, reference, hypotheses))

    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with atomic_write(args.out, mode="w") as file:
            file.write(text + "\n")
    return report


if __name__ == "__main__":
    main()
