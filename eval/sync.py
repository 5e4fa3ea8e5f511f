"""LSE-D / LSE-C lip-sync scores of a video or a directory of videos (see sonicsynth/metrics/lip_sync.py).

Writes sync.json (per video: LSE-D, LSE-C, AV offset, tracks found and scored, frames scored, the
mean distance at every offset, or the error that stopped it), sync.md and two PNGs: the
distance-vs-offset curves and the per-video score distributions. A video that cannot be scored
(no face, no audio track, too short) is reported and the rest are still evaluated.

examples:
  python eval/sync.py out/videos --syncnet syncnet_v2.model                      # real videos: face detection
  python eval/sync.py data/synthetic_av/videos --crop face_centred \\
      --syncnet logs/syncnet_synthetic/runs/<run>/checkpoints/last.ckpt            # LRS-style face crops
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def find_videos(inputs: list[str]) -> list[Path]:
    videos = []
    for item in map(Path, inputs):
        if item.is_dir():
            videos += sorted(p for p in item.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        else:
            videos.append(item)  # missing files are reported per video, not fatal
    return videos


def plot_curves(reports: list[dict], path: Path, max_curves: int = 12) -> Path | None:
    import matplotlib.pyplot as plt

    from sonicsynth.utils.plotting import save_figure

    scored = [r for r in reports if r["scored"]][:max_curves]
    if not scored:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for report in scored:
        track = max(report["scored"], key=lambda t: t["frames_scored"])
        vshift = (len(track["mean_distance"]) - 1) // 2
        offsets = [vshift - i for i in range(len(track["mean_distance"]))]
        ax.plot(offsets, track["mean_distance"], label=Path(report["video"]).stem, linewidth=1)
    ax.set_xlabel("AV offset (frames at 25 fps; > 0: audio leads)")
    ax.set_ylabel("mean distance")
    ax.set_title("SyncNet distance vs offset (minimum = LSE-D)")
    if len(scored) <= 8:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="video files and/or directories searched recursively")
    parser.add_argument("--syncnet", required=True, help="syncnet_v2.model, a sonicsynth SyncNet package or a .ckpt")
    parser.add_argument("--crop", choices=["detect", "face_centred"], default="detect",
                        help="detect faces (real videos, default) or take frames as face crops (LRS-style)")
    parser.add_argument("--out", default=None, help="output directory (default logs/eval/sync/<time>)")
    parser.add_argument("--vshift", type=int, default=15, help="offsets searched: -vshift..+vshift frames")
    parser.add_argument("--min-track", type=int, default=100, help="shortest face track scored, in frames")
    parser.add_argument("--min-face-size", type=int, default=100, help="smallest face scored, in pixels")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from sonicsynth.metrics.base import MetricError
    from sonicsynth.metrics.lip_sync import LipSyncEvaluator
    from sonicsynth.metrics.report import (
        plot_distributions,
        summarize,
        summary_markdown,
        write_report,
    )

    videos = find_videos(args.inputs)
    if not videos:
        print(f"error: no videos ({', '.join(VIDEO_SUFFIXES)}) in {' '.join(args.inputs)}", file=sys.stderr)
        return 1
    try:
        evaluator = LipSyncEvaluator(args.syncnet, vshift=args.vshift, batch_size=args.batch_size, device=args.device,
                                     min_track=args.min_track, min_face_size=args.min_face_size)
    except (MetricError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out_dir = Path(args.out or ROOT / "logs" / "eval" / "sync" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    reports, seconds = [], 0.0
    start = time.perf_counter()
    for video in tqdm(videos, desc="lip sync", unit="video"):
        report = evaluator.evaluate(video, crop=args.crop).as_dict()
        reports.append(report)
        seconds += report["frames_scored"] / 25
    elapsed = time.perf_counter() - start

    rows = [{"video": r["video"], "lse_d": r["lse_d"], "lse_c": r["lse_c"], "offset": r["offset"]} for r in reports]
    summary = summarize(rows, ["lse_d", "lse_c", "offset"])
    failed = [r for r in reports if r["error"]]
    result = {
        "syncnet": str(args.syncnet),
        "crop": args.crop,
        "vshift": args.vshift,
        "videos": len(reports),
        "scored": len(reports) - len(failed),
        "failed": len(failed),
        "seconds_scored": round(seconds, 2),
        "cpu_seconds_per_minute_of_video" if args.device == "cpu" else "seconds_per_minute_of_video":
            round(elapsed / seconds * 60, 2) if seconds else None,
        "summary": summary,
        "per_video": reports,
    }
    facts = [
        f"SyncNet: `{args.syncnet}`; crop path: {args.crop}; offsets searched: +-{args.vshift} frames",
        f"{result['scored']} of {result['videos']} videos scored, {result['seconds_scored']} s of video",
        *[f"not scored: `{r['video']}`: {r['error']}" for r in failed[:20]],
    ]
    notes = ["LSE-D: lower is better. LSE-C: higher is better. offset: frames at 25 fps, > 0 when the audio leads."]
    write_report(out_dir, "sync", result, summary_markdown("Lip-sync report (LSE-D / LSE-C)", facts, summary, notes))
    plot_curves(reports, out_dir / "distance_vs_offset.png")
    plot_distributions(rows, ["lse_d", "lse_c", "offset"], out_dir / "score_distributions.png")
    print(json.dumps({"output_dir": str(out_dir), **{k: v for k, v in result.items() if k != "per_video"}}, indent=2))
    return 0 if result["scored"] else 1


if __name__ == "__main__":
    sys.exit(main())
