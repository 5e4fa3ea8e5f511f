"""Does a SyncNet see sync? Score face-centred videos as they are and with their audio delayed by
`--shift` frames (re-muxed MP4s), and report LSE-D, LSE-C and how often the AV offset found is
within one frame of the truth (0 in sync, -shift when delayed), as JSON.

    python eval/sync_shift_check.py --syncnet logs/syncnet_synthetic/runs/<run>/checkpoints/last.ckpt \\
        [--manifest data/synthetic_av/manifest.jsonl --split test --shift 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--syncnet", required=True, help="SyncNet package, .ckpt or syncnet_v2.model")
    parser.add_argument("--manifest", type=Path, default=ROOT / "data" / "synthetic_av" / "manifest.jsonl")
    parser.add_argument("--split", default="test")
    parser.add_argument("--shift", type=int, default=10, help="audio delay in video frames (25 fps)")
    parser.add_argument("--max-videos", type=int, default=None)
    args = parser.parse_args(argv)

    import numpy as np
    from tqdm import tqdm

    from sonicsynth.data.manifest import read_manifest
    from sonicsynth.metrics.lip_sync import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, LipSyncEvaluator, read_face_centred_video
    from sonicsynth.video import write_video

    videos = [u.video_file(args.manifest.parent) for u in read_manifest(args.manifest) if u.split == args.split and u.video_path]
    videos = videos[: args.max_videos]
    if not videos:
        print(f"error: {args.manifest}: no videos in split {args.split!r}", file=sys.stderr)
        return 1
    evaluator = LipSyncEvaluator(args.syncnet)
    results = {"in_sync": [], "shifted": []}
    with tempfile.TemporaryDirectory() as scratch:
        for video in tqdm(videos, desc="videos"):
            frames, audio = read_face_centred_video(video)
            delayed = np.concatenate([np.zeros(args.shift * SAMPLES_PER_FRAME, np.int16), audio])[: len(audio)]
            shifted_video = write_video(Path(scratch) / video.name, frames, FPS, delayed, SAMPLE_RATE)
            for label, path, truth in (("in_sync", video, 0), ("shifted", shifted_video, -args.shift)):
                report = evaluator.evaluate(path, crop="face_centred")
                if report.error is None:
                    results[label].append({"video": video.name, "lse_d": report.lse_d, "lse_c": report.lse_c,
                                           "offset": report.offset, "offset_error": abs(report.offset - truth)})
    summary = {}
    for label, rows in results.items():
        summary[label] = {
            "videos": len(rows),
            "lse_d": float(np.mean([r["lse_d"] for r in rows])),
            "lse_c": float(np.mean([r["lse_c"] for r in rows])),
            "offset_within_1_frame": float(np.mean([r["offset_error"] <= 1 for r in rows])),
            "median_offset": float(np.median([r["offset"] for r in rows])),
        }
    paired = [(a, b) for a in results["in_sync"] for b in results["shifted"] if a["video"] == b["video"]]
    summary["share_in_sync_better"] = {
        "lse_d": float(np.mean([a["lse_d"] < b["lse_d"] for a, b in paired])),
        "lse_c": float(np.mean([a["lse_c"] > b["lse_c"] for a, b in paired])),
    }
    print(json.dumps({"syncnet": args.syncnet, "manifest": str(args.manifest), "split": args.split,
                      "shift_frames": args.shift, "summary": summary, "per_video": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
