"""Speed of the lip-sync evaluator: seconds of compute per minute of video, printed as JSON.

Uses a SyncNet of the published size (random weights: speed does not depend on them) on
synthetic talking-face videos (data/synthetic_av by default), for both crop paths and a few batch
sizes, side by side in one run. Decoding, face detection and cropping are included.

    python eval/bench_sync.py [--videos data/synthetic_av/videos] [--minutes 1] [--batch-sizes 20 64]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, default=ROOT / "data" / "synthetic_av" / "videos")
    parser.add_argument("--minutes", type=float, default=1.0, help="video to score per setting")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[20, 64])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    import torch

    from sonicsynth.metrics.lip_sync import LipSyncEvaluator
    from sonicsynth.models.syncnet.network import SyncNet
    from sonicsynth.video import probe_video

    videos = sorted(args.videos.rglob("*.mp4"))
    if not videos:
        print(f"error: no .mp4 videos under {args.videos} (python scripts/build_synthetic_av.py)", file=sys.stderr)
        return 1
    chosen, seconds = [], 0.0
    for video in videos:
        if seconds >= args.minutes * 60:
            break
        chosen.append(video)
        seconds += probe_video(video).duration
    torch.manual_seed(0)
    network = SyncNet()
    results = []
    for crop in ("face_centred", "detect"):
        for batch_size in args.batch_sizes:
            evaluator = LipSyncEvaluator(network, batch_size=batch_size, device=args.device, min_track=25)
            start = time.perf_counter()
            frames = sum(evaluator.evaluate(v, crop=crop).frames_scored for v in chosen)
            elapsed = time.perf_counter() - start
            results.append({"crop": crop, "batch_size": batch_size, "frames_scored": frames,
                            "seconds": round(elapsed, 2), "seconds_per_minute_of_video": round(elapsed / seconds * 60, 1)})
    print(json.dumps({
        "device": args.device if args.device != "cpu" else f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})",
        "syncnet_parameters": sum(p.numel() for p in network.parameters()),
        "videos": len(chosen), "video_seconds": round(seconds, 1), "results": results,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
