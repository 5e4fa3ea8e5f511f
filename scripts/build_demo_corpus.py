#!/usr/bin/env python
"""Build the demo corpus (see sonicsynth/data/demo_corpus.py for contents, layout and splits).

examples:
  python scripts/build_demo_corpus.py --out data/demo
  python scripts/build_demo_corpus.py --out data/tiny --sentences 3 --voices mbrola-us1 --max-human-per-speaker 1
  python scripts/build_demo_corpus.py --out data/demo_dialogue --dialogue-lines -1   # + 1,500 dialogue lines
  python scripts/build_demo_corpus.py --list-voices
"""

from __future__ import annotations

import argparse
import sys

from sonicsynth.data.demo_corpus import SENTENCES, DemoCorpusConfig, build_demo_corpus
from sonicsynth.data.tts_engines import ALL_VOICES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/demo", help="output directory (default: data/demo)")
    parser.add_argument(
        "--sentences",
        type=int,
        default=len(SENTENCES),
        help=f"how many of the {len(SENTENCES)} sentences each voice speaks",
    )
    parser.add_argument(
        "--voices",
        nargs="+",
        metavar="VOICE",
        help="synthetic voices (default: every installed one); see --list-voices",
    )
    parser.add_argument(
        "--max-human-per-speaker", type=int, default=40, help="recorded clips per human speaker (0: none; default 40)"
    )
    parser.add_argument(
        "--dialogue-lines",
        type=int,
        default=0,
        help="lines of Fish Fillets NG's English dialogue to add (-1: all; default 0), for the GPT's text variety",
    )
    parser.add_argument("--voices-per-line", type=int, default=2, help="voices speaking each dialogue line (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="parallel worker processes (default 2)")
    parser.add_argument(
        "--list-voices", action="store_true", help="list the known voices and whether they are installed"
    )
    args = parser.parse_args(argv)

    if args.list_voices:
        for voice in ALL_VOICES:
            state = "installed" if voice.is_installed() else f"missing (apt-get install {voice.debian_package})"
            timings = "phone timings" if voice.gives_timings else "no timings"
            print(f"{voice.name:18} {timings:14} {state}")
        return 0
    try:
        config = DemoCorpusConfig(
            voices=None if args.voices is None else tuple(args.voices),
            sentences=args.sentences,
            max_human_per_speaker=args.max_human_per_speaker,
            dialogue_lines=None if args.dialogue_lines == -1 else args.dialogue_lines,
            voices_per_line=args.voices_per_line,
            workers=args.workers,
        )
        summary = build_demo_corpus(args.out, config)
    except (ValueError, RuntimeError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
