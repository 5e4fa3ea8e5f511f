#!/usr/bin/env python
"""Build the synthetic talking-face set: a drawn face whose mouth follows each demo utterance's
phone timings, as H.264/AAC videos plus a manifest (see sonicsynth/data/synthetic_av.py).

examples:
  python scripts/build_synthetic_av.py                                 # data/demo -> data/synthetic_av
  python scripts/build_synthetic_av.py --speech data/tiny/manifest.jsonl --out data/tiny_av --max-items 12
"""

from __future__ import annotations

import argparse
import sys

from sonicsynth.data.synthetic_av import build_synthetic_av_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech", default="data/demo/manifest.jsonl", help="speech manifest with phone timings")
    parser.add_argument("--out", default="data/synthetic_av", help="output directory (default: data/synthetic_av)")
    parser.add_argument("--sources", nargs="+", default=["mbrola", "festival"], help="engines whose timings to animate")
    parser.add_argument("--max-items", type=int, default=None, help="at most this many utterances")
    parser.add_argument("--seed", type=int, default=0, help="seed of the faces' looks (default 0)")
    args = parser.parse_args(argv)
    try:
        manifest = build_synthetic_av_corpus(args.speech, args.out, args.seed, args.sources, args.max_items)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
