#!/usr/bin/env python
"""Prepare a talking-face video corpus: manifest, 16 kHz audio, face crops and approximate face targets.

Writes, under --out:
  manifest.jsonl                  every clip with readable video and audio (video_path, audio_path, text)
  manifest.jsonl.problems.json    clips left out of it (no audio, corrupt file, missing transcript ...)
  wavs/<speaker>/<id>.wav         the clips' audio, mono 16 kHz
  cache/face_targets-<hash>/      per video: <sha>.npz (blendshapes, pose, boxes, ok flags, landmarks)
                                  and <sha>.mp4 (square face crops, 25 fps, with the audio)
  face_manifest.jsonl             the clips with face targets; extras name the video hash, cache key and
                                  motion_path (train on it: experiment=a2bs_synthetic data.manifest=<it>)
  preparation_summary.json        counts, every clip skipped and why, clips with other faces or flagged frames

Resumable: prepared videos (same bytes, same settings) and extracted audio are reused. Targets are
approximate, from 2-D landmark geometry (see sonicsynth/video/face_geometry.py); the dlib landmark
model they come from is for non-commercial use.

examples:
  python scripts/prepare_av_corpus.py --layout hdtf --root /data/HDTF/clips --out /data/hdtf_prepared
  python scripts/prepare_av_corpus.py --layout lrs2 --root /data/mvlrs_v1/main --out /data/lrs2 --expand-ratio 0.5
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from sonicsynth.data.av_adapters import AV_ADAPTERS, make_av_manifest
from sonicsynth.data.av_preparation import FacePreparationSettings, prepare_face_targets
from sonicsynth.data.feature_cache import FeatureCache
from sonicsynth.data.manifest import write_manifest
from sonicsynth.utils.atomic import atomic_write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", required=True, choices=list(AV_ADAPTERS), help="corpus layout")
    parser.add_argument("--root", required=True, type=Path, help="corpus folder (LRS2: the main or pretrain folder)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--expand-ratio", type=float, default=0.3, help="face-box padding on each side of the crop")
    parser.add_argument("--crop-size", type=int, default=256, help="side of the square face crops, pixels")
    parser.add_argument("--language", help="language code of the clips (default: the layout's)")
    parser.add_argument("--val-every", type=int, default=10, help="hold out every N-th clip for val (0: none)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    options = {"language": args.language} if args.language else {}
    try:
        settings = FacePreparationSettings(crop_size=args.crop_size, expand_ratio=args.expand_ratio)
        utterances, problems = make_av_manifest(args.layout, args.root, args.out, val_every=args.val_every or None,
                                                progress=not args.quiet, **options)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    face = prepare_face_targets(utterances, args.out, args.out / "cache", settings, progress=not args.quiet)
    cache = FeatureCache(args.out / "cache")

    def face_extras(utterance):
        # motion_path and identity are what the face-motion datamodule reads (experiment=a2bs_*).
        record = face.prepared[utterance.id]
        targets = cache.path(record["face_targets"], record["video_sha256"]).relative_to(args.out)
        return {**utterance.extras, **record, "motion_path": str(targets), "identity": utterance.speaker}

    prepared = [replace(u, extras=face_extras(u)) for u in utterances if u.id in face.prepared]
    if prepared:
        write_manifest(args.out / "face_manifest.jsonl", prepared)
    summary = {
        "layout": args.layout, "root": str(args.root), "settings": vars(settings),
        "clips": len(utterances) + len(problems), "with_audio": len(utterances), "prepared": len(prepared),
        "skipped": [p.to_json() for p in problems] + face.problems,
        "notes": face.notes, "seconds": round(face.seconds, 3),
    }
    with atomic_write(args.out / "preparation_summary.json", "w") as file:
        json.dump(summary, file, indent=2, default=str)
    print(json.dumps({k: summary[k] for k in ("clips", "with_audio", "prepared")} | {"skipped": len(summary["skipped"])}))
    return 0 if prepared else 1


if __name__ == "__main__":
    sys.exit(main())
