#!/usr/bin/env python
"""Write the manifest of a corpus in its published layout (see sonicsynth/data/adapters/__init__.py).

Items that cannot be used are listed in <out>.problems.json beside the manifest. Audio paths in the
manifest are relative to its folder, which must hold all the audio.

examples:
  python scripts/make_manifest.py --format ljspeech --root /data/LJSpeech-1.1 --out /data/LJSpeech-1.1/manifest.jsonl
  python scripts/make_manifest.py --format vctk --root /data/VCTK-Corpus-0.92 --out /data/VCTK-Corpus-0.92/manifest.jsonl \\
      --option mic=mic2 --split-by speaker --test-every 20
  python scripts/make_manifest.py --format mfa --root /data/my_corpus --out /data/my_corpus/manifest.jsonl --language de
  python scripts/make_manifest.py --format csv --root /data/clips/index.csv --out /data/clips/manifest.jsonl \\
      --option audio_column=file --option text_column=sentence
"""

from __future__ import annotations

import argparse
import logging
import sys

from sonicsynth.data.adapters import ADAPTERS, adapter_options, make_manifest
from sonicsynth.data.splits import SPLIT_BY


def _option(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    formats = "; ".join(f"{name} ({', '.join(adapter_options(name)) or 'no options'})" for name in ADAPTERS)
    parser.add_argument("--format", required=True, choices=list(ADAPTERS), help="corpus format")
    parser.add_argument(
        "--root", required=True, help="corpus folder, or the list/table file for gpt_sovits, csv, jsonl"
    )
    parser.add_argument("--out", required=True, help="manifest path (JSONL)")
    parser.add_argument(
        "--val-every", type=int, default=10, help="hold out every N-th utterance/speaker for val (0: none)"
    )
    parser.add_argument(
        "--test-every", type=int, default=0, help="hold out every N-th utterance/speaker for test (0: none)"
    )
    parser.add_argument(
        "--split-by", choices=SPLIT_BY, default="utterance", help="hold out utterances or whole speakers"
    )
    parser.add_argument("--seed", type=int, default=0, help="which position in each period is held out")
    parser.add_argument("--language", help="language of corpora that do not name one (mfa, csv, jsonl)")
    parser.add_argument(
        "--option", type=_option, action="append", default=[], metavar="KEY=VALUE", help=f"format option: {formats}"
    )
    args = parser.parse_args(argv)

    options = dict(args.option)
    if args.language is not None:
        options["language"] = args.language
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        make_manifest(
            args.format,
            args.root,
            args.out,
            val_every=args.val_every or None,
            test_every=args.test_every or None,
            split_by=args.split_by,
            seed=args.seed,
            **options,
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
