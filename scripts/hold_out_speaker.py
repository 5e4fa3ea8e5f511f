#!/usr/bin/env python
"""Split a manifest for a few-shot experiment: a base manifest without one speaker, and that
speaker's few-shot manifest (about --train-seconds of its train clips, plus its val and test clips).
Both are written beside the input, whose folder holds the audio they point at.

examples:
  python scripts/hold_out_speaker.py data/demo/manifest.jsonl --speaker fillets-v --train-seconds 60
  # -> data/demo/manifest.without-fillets-v.jsonl and data/demo/manifest.fillets-v.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sonicsynth.data.manifest import read_manifest, write_manifest
from sonicsynth.data.splits import hold_out_speaker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", type=Path, help="the corpus manifest (JSONL)")
    parser.add_argument("--speaker", required=True, help="the speaker held out of the base")
    parser.add_argument("--train-seconds", type=float, default=60.0, help="training audio of the few-shot set")
    args = parser.parse_args(argv)
    try:
        others, target = hold_out_speaker(read_manifest(args.manifest), args.speaker, args.train_seconds)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    stem = args.manifest.name.removesuffix(".jsonl")
    base_path = args.manifest.with_name(f"{stem}.without-{args.speaker}.jsonl")
    target_path = args.manifest.with_name(f"{stem}.{args.speaker}.jsonl")
    write_manifest(base_path, others)
    write_manifest(target_path, target)
    seconds = {split: sum(u.duration for u in target if u.split == split) for split in ("train", "val", "test")}
    print(f"{base_path}: {len(others)} utterances")
    print(f"{target_path}: " + ", ".join(f"{split} {s:.1f} s" for split, s in seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
