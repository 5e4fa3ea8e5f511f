"""How well does an audio-to-blendshape model move the face? Held-out synthetic utterances scored
against their exact targets, and the lip sync of its preview videos, as JSON.

    python eval/face_motion_report.py --ckpt logs/a2bs_synthetic/runs/<run>/checkpoints/last.ckpt \\
        [--manifest data/synthetic_av/manifest.jsonl --split test --held-out mbrola-us3] \\
        [--syncnet logs/syncnet_synthetic/runs/<run>/checkpoints/last.ckpt --shift 10] [--out DIR]

Groups: `seen_identities` (unseen sentences of the voices the model trained on) and
`unseen_identity` (the held-out voices, default: what the checkpoint's datamodule held out).
Per group, the mean over utterances of the metrics of `sonicsynth.metrics.face_motion` on the raw
prediction (before post-processing) and the share of utterances whose jawOpen lag is within one
frame (40 ms). With `--syncnet`, each utterance's motion and ground truth are rendered as preview
videos (the drawn face of `procedural_face`, muxed with the audio) and scored with LSE-D / LSE-C:
ground truth, prediction, and the prediction with its audio delayed `--shift` frames. Both readings
are reported: the published one (at the best offset of the +-15 frame search, with the AV offset
found) and at offset 0 (`*_at_0_*`), since the search forgives a constant shift
(`lip_sync.scores_at_offset`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METRICS = ("mouth_l1", "lip_max_error", "jaw_open_pearson", "jaw_open_lag_frames", "jitter", "jitter_true",
           "upper_face_dynamics_deviation")


def _summary(rows: list[dict]) -> dict:
    import numpy as np

    summary = {"utterances": len(rows)}
    for name in METRICS:
        summary[name] = float(np.mean([row[name] for row in rows]))
    summary["jaw_open_lag_within_1_frame"] = float(np.mean([abs(row["jaw_open_lag_frames"]) <= 1 for row in rows]))
    for label in ("truth", "prediction", "shifted"):
        for name in (f"lse_d_{label}", f"lse_c_{label}", f"lse_d_at_0_{label}", f"lse_c_at_0_{label}"):
            values = [row[name] for row in rows if name in row]
            if values:
                summary[name] = float(np.mean(values))
        offsets = [row[f"offset_{label}"] for row in rows if f"offset_{label}" in row]
        if offsets:
            summary[f"median_offset_{label}"] = float(np.median(offsets))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="face-motion package or training checkpoint")
    parser.add_argument("--manifest", type=Path, default=ROOT / "data" / "synthetic_av" / "manifest.jsonl")
    parser.add_argument("--split", default="test")
    parser.add_argument("--held-out", nargs="*", default=None, help="unseen identities (default: the checkpoint's)")
    parser.add_argument("--syncnet", default=None, help="SyncNet for LSE-D/LSE-C of the preview videos")
    parser.add_argument("--shift", type=int, default=10, help="audio delay of the shifted preview, in frames")
    parser.add_argument("--out", type=Path, default=None, help="also write face_motion_report.json and a plot here")
    parser.add_argument("--trust", action="store_true", help="allow unpickling a training checkpoint's extras")
    args = parser.parse_args(argv)

    import numpy as np
    from tqdm import tqdm

    from sonicsynth.audio import load_audio
    from sonicsynth.data.manifest import read_manifest
    from sonicsynth.data.synthetic_av import load_motion
    from sonicsynth.export.package import load_training_checkpoint
    from sonicsynth.metrics.face_motion import face_motion_report
    from sonicsynth.models.face.audio_features import SAMPLE_RATE
    from sonicsynth.pipelines.a2bs import render_preview
    from sonicsynth.pipelines.audio_to_face import FacePredictor

    if not args.manifest.exists():
        print(f"error: {args.manifest}: no such manifest (python scripts/build_synthetic_av.py)", file=sys.stderr)
        return 1
    predictor = FacePredictor.load(args.ckpt, trust=args.trust, min_speech_level_db=None)
    held_out = args.held_out
    if held_out is None:
        if Path(args.ckpt).is_dir():
            print("error: a package does not record its training data; pass --held-out", file=sys.stderr)
            return 1
        checkpoint = load_training_checkpoint(Path(args.ckpt), trust=args.trust)
        held_out = list(checkpoint.get("datamodule_hyper_parameters", {}).get("held_out_identities", []))
    utterances = [u for u in read_manifest(args.manifest) if u.split == args.split and "motion_path" in u.extras]
    if not utterances:
        print(f"error: {args.manifest}: no utterances with motion targets in split {args.split!r}", file=sys.stderr)
        return 1
    evaluator = None
    if args.syncnet:
        from sonicsynth.metrics.lip_sync import SAMPLES_PER_FRAME, LipSyncEvaluator, scores_at_offset

        evaluator = LipSyncEvaluator(args.syncnet)

    rows: dict[str, list[dict]] = {"seen_identities": [], "unseen_identity": []}
    example = None
    with tempfile.TemporaryDirectory() as scratch:
        for utterance in tqdm(utterances, desc="utterances"):
            samples = load_audio(utterance.audio_file(args.manifest.parent), sample_rate=SAMPLE_RATE).samples
            truth = load_motion(args.manifest.parent / utterance.extras["motion_path"])
            predicted = predictor.predict(samples, name="prediction").motion
            frames = min(truth.num_frames, predicted.num_frames)
            row = {"id": utterance.id, "identity": utterance.extras.get("identity", utterance.speaker),
                   **face_motion_report(predicted.blendshapes[:frames], truth.blendshapes[:frames], max_lag=5)}
            if evaluator is not None:
                delayed = np.concatenate([np.zeros(args.shift * SAMPLES_PER_FRAME, np.float32), samples])[: len(samples)]
                for label, motion, audio in (("truth", truth, samples), ("prediction", predicted, samples),
                                             ("shifted", predicted, delayed)):
                    video = render_preview(Path(scratch) / f"{utterance.id}_{label}.mp4", motion, audio, seed=0)
                    report = evaluator.evaluate(video, crop="face_centred")
                    if report.error is None:
                        row[f"lse_d_{label}"], row[f"lse_c_{label}"] = report.lse_d, report.lse_c
                        row[f"offset_{label}"] = report.offset
                        at_zero = scores_at_offset(report.scored[0]["mean_distance"], 0)
                        row[f"lse_d_at_0_{label}"], row[f"lse_c_at_0_{label}"] = at_zero
            group = "unseen_identity" if row["identity"] in held_out else "seen_identities"
            rows[group].append(row)
            if example is None and group == "unseen_identity":
                example = (utterance.id, predicted, truth)

    result = {"ckpt": str(args.ckpt), "manifest": str(args.manifest), "split": args.split, "held_out": held_out,
              "summary": {group: _summary(group_rows) for group, group_rows in rows.items() if group_rows},
              "per_utterance": rows}
    if evaluator is not None:
        result["shift_frames"] = args.shift
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        from sonicsynth.models.face.blendshapes import FaceMotion
        from sonicsynth.models.face.motion_io import plot_motion

        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "face_motion_report.json").write_text(text + "\n")
        if example is not None:
            name, predicted, truth = example
            truth = FaceMotion(truth.blendshapes, truth.pose, fps=truth.fps, name="ground truth")
            plot_motion(args.out / f"{name}.png", predicted, reference=truth,
                        title=f"{name} (unseen identity): prediction (solid) and ground truth (dashed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
