"""Speech quality of a directory of audio files: MOS proxies, plus intrusive metrics when references exist.

Without references: DNSMOS (SIG/BAK/OVRL, P.808), and UTMOS22 when `--utmos` names its published
weights file. With `--references DIR` (files matched by relative path, else by name): PESQ (wb),
STOI, ESTOI, MCD (DTW) and F0 RMSE / V/UV F1 as well. Writes mos.json, mos.md and
mos_distributions.png; a file that cannot be scored is reported and the rest are still scored.

examples:
  python eval/mos.py out/wavs
  python eval/mos.py out/wavs --references data/demo/wavs --utmos utmos22_strong_step7459_v1.pt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="audio files and/or directories")
    parser.add_argument("--references", type=Path, help="directory of reference recordings (enables PESQ, STOI, MCD, F0)")
    parser.add_argument("--utmos", type=Path, help="UTMOS22 strong weights (SpeechMOS's utmos22_strong_step7459_v1.pt)")
    parser.add_argument("--out", type=Path, help="output directory (default logs/eval/mos/<time>)")
    args = parser.parse_args(argv)

    from sonicsynth.audio.io import load_audio
    from sonicsynth.metrics.base import MetricError
    from sonicsynth.metrics.batch import default_output_dir, find_files, reference_for, score_each, write_batch_report
    from sonicsynth.metrics.mcd import mel_cepstral_distortion
    from sonicsynth.metrics.pitch import f0_metrics
    from sonicsynth.metrics.quality import dnsmos, pesq_score, stoi_score
    from sonicsynth.metrics.utmos import load_utmos22

    files = find_files(args.inputs)
    if not files:
        print(f"error: no audio files in {' '.join(args.inputs)}", file=sys.stderr)
        return 1
    try:
        utmos = load_utmos22(args.utmos) if args.utmos else None
    except MetricError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    roots = [Path(i) for i in args.inputs if Path(i).is_dir()]

    def score(path: Path) -> dict:
        audio = load_audio(path)
        name = str(path)
        row = dnsmos(audio.samples, audio.sample_rate, name=name)
        if utmos is not None:
            row["utmos"] = utmos.score(audio.samples, audio.sample_rate, name=name)
        if args.references:
            root = next((r for r in roots if r in path.parents), None)
            reference_path = reference_for(path, root, args.references)
            if reference_path is None:
                raise MetricError(f"{path}: no reference with this name under {args.references}")
            loaded = load_audio(reference_path, audio.sample_rate)  # a reference at another rate is resampled
            reference = loaded.samples
            row["reference"] = str(reference_path)
            if loaded.notes:
                row["reference_notes"] = "; ".join(loaded.notes)
            row["pesq_wb"] = pesq_score(reference, audio.samples, audio.sample_rate, name=name)
            row["stoi"] = stoi_score(reference, audio.samples, audio.sample_rate, name=name)
            row["estoi"] = stoi_score(reference, audio.samples, audio.sample_rate, extended=True, name=name)
            row["mcd_db"] = mel_cepstral_distortion(reference, audio.samples, audio.sample_rate, name=name)
            row.update(f0_metrics(reference, audio.samples, audio.sample_rate, name=name))
        return row

    rows = score_each(files, score, "quality")
    metrics = ["dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"]
    metrics += ["utmos"] if utmos is not None else []
    metrics += ["pesq_wb", "stoi", "estoi", "mcd_db", "f0_rmse_hz", "vuv_f1"] if args.references else []
    out_dir = args.out or default_output_dir(ROOT, "mos")
    facts = [f"inputs: {' '.join(args.inputs)}", f"references: {args.references or 'none (no-reference metrics only)'}"]
    notes = ["Higher is better for DNSMOS, UTMOS, PESQ, STOI, ESTOI, V/UV F1; lower for MCD and F0 RMSE.",
             "DNSMOS rates noise and distortion, not naturalness: a clean robotic voice scores like real speech."]
    report = write_batch_report(out_dir, "mos", "Speech quality report", rows, metrics, facts, notes)
    print(json.dumps({"output_dir": str(out_dir), **{k: v for k, v in report.items() if k != "per_file"}}, indent=2))
    return 0 if report["scored"] else 1


if __name__ == "__main__":
    sys.exit(main())
