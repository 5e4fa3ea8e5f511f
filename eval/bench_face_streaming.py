"""Streaming face motion on the CPU: per-chunk compute time, the latency built into the model, and how
far the streamed curves are from the offline prediction, side by side in one run, as JSON.

    python eval/bench_face_streaming.py --ckpt <face-motion package or checkpoint> \\
        [--manifest data/synthetic_av/manifest.jsonl --utterances 8 --chunk-ms 40 100 200 --threads 1]

For each chunk size the audio of the test utterances is pushed chunk by chunk into a `MotionStream`;
per chunk the wall time of `push` is recorded (mean, 95th percentile, max). The algorithmic latency
is how long after a frame starts its value can be final (look-ahead + the features' window; the
`MotionStream` docstring) plus, on average, half a chunk of waiting for audio. Offline prediction of
the same clips gives the real-time factor and the reference for the largest absolute difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--manifest", type=Path, default=ROOT / "data" / "synthetic_av" / "manifest.jsonl")
    parser.add_argument("--utterances", type=int, default=8)
    parser.add_argument("--chunk-ms", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--trust", action="store_true")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from sonicsynth.audio import load_audio
    from sonicsynth.data.manifest import read_manifest
    from sonicsynth.models.face.audio_features import HOP, MOTION_HOP, SAMPLE_RATE
    from sonicsynth.pipelines.audio_to_face import FacePredictor

    torch.set_num_threads(args.threads)
    predictor = FacePredictor.load(args.ckpt, trust=args.trust, min_speech_level_db=None)
    utterances = [u for u in read_manifest(args.manifest) if u.split == "test"][: args.utterances]
    clips = [load_audio(u.audio_file(args.manifest.parent), sample_rate=SAMPLE_RATE).samples for u in utterances]
    seconds = sum(len(c) for c in clips) / SAMPLE_RATE

    predictor.predict(clips[0])  # warm-up: first-call costs (librosa's JIT, allocator)
    start = time.perf_counter()
    offline = [predictor.predict(clip).motion for clip in clips]
    offline_sec = time.perf_counter() - start

    lookahead = predictor.net.lookahead
    built_in_ms = 1000 * (MOTION_HOP * (lookahead + 1) - HOP // 2 + predictor.features.margin) / SAMPLE_RATE
    results = []
    for chunk_ms in args.chunk_ms:
        chunk = SAMPLE_RATE * chunk_ms // 1000
        times, largest = [], 0.0
        for clip, reference in zip(clips, offline, strict=True):
            stream = predictor.stream()
            parts = []
            for begin in range(0, len(clip), chunk):
                tick = time.perf_counter()
                parts.append(stream.push(clip[begin : begin + chunk]))
                times.append(time.perf_counter() - tick)
            parts.append(stream.finish())
            streamed = np.concatenate([p.blendshapes for p in parts if p is not None])
            largest = max(largest, float(np.abs(streamed - reference.blendshapes).max()))
        times_ms = 1000 * np.array(times)
        results.append({
            "chunk_ms": chunk_ms,
            "chunks": len(times),
            "compute_ms_mean": float(times_ms.mean()),
            "compute_ms_p95": float(np.percentile(times_ms, 95)),
            "compute_ms_max": float(times_ms.max()),
            "compute_share_of_chunk": float(times_ms.mean() / chunk_ms),
            "latency_ms_mean": built_in_ms + chunk_ms / 2 + float(times_ms.mean()),
            "max_abs_difference_to_offline": largest,
        })
    print(json.dumps({
        "ckpt": str(args.ckpt), "threads": args.threads, "utterances": len(clips), "audio_sec": seconds,
        "lookahead_frames": lookahead, "receptive_field_frames": predictor.net.receptive_field,
        "built_in_latency_ms": built_in_ms,
        "offline_real_time_factor": offline_sec / seconds,
        "streaming": results,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
