"""Intelligibility of audio files: WER and CER of an ASR transcript against the text that was spoken.

The text comes from a sonicsynth manifest (`--manifest`: every utterance of the chosen split, its
audio and text) or, for files named directly, from a `.txt` or `.lab` file beside each audio file
(the Montreal Forced Aligner corpus layout). The recognizer is pocketsphinx (English, model in
its wheel); other recognizers plug in through `sonicsynth.metrics.asr.SpeechRecognizer`. Writes
asr.json (with each hypothesis), asr.md and asr_distributions.png.

examples:
  python eval/asr.py --manifest data/demo/manifest.jsonl --split test
  python eval/asr.py out/wavs            # out/wavs/x.wav + out/wavs/x.txt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sidecar_text(path: Path) -> str:
    from sonicsynth.metrics.base import MetricError

    for suffix in (".txt", ".lab"):
        transcript = path.with_suffix(suffix)
        if transcript.exists():
            return transcript.read_text(encoding="utf-8").strip()
    raise MetricError(f"{path}: no transcript beside it ({path.stem}.txt or {path.stem}.lab)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", help="audio files and/or directories with .txt/.lab transcripts beside them")
    parser.add_argument("--manifest", type=Path, help="a sonicsynth manifest (audio + text) instead of inputs")
    parser.add_argument("--split", default="test", help="manifest split to score (default test; 'all' for every line)")
    parser.add_argument("--out", type=Path, help="output directory (default logs/eval/asr/<time>)")
    args = parser.parse_args(argv)

    from sonicsynth.audio.io import load_audio
    from sonicsynth.data.manifest import read_manifest
    from sonicsynth.metrics.asr import PocketsphinxRecognizer, intelligibility
    from sonicsynth.metrics.batch import default_output_dir, find_files, score_each, write_batch_report

    if args.manifest:
        utterances = [u for u in read_manifest(args.manifest) if args.split in ("all", u.split)]
        texts = {u.audio_file(args.manifest.parent): u.text for u in utterances}
    else:
        texts = {path: None for path in find_files(args.inputs)}
    if not texts:
        print("error: nothing to score (name audio files, directories or --manifest)", file=sys.stderr)
        return 1
    recognizer = PocketsphinxRecognizer()

    def score(path: Path) -> dict:
        text = texts[path] if texts[path] is not None else sidecar_text(path)
        audio = load_audio(path)
        return {"reference": text, **intelligibility(audio.samples, audio.sample_rate, text, recognizer, name=str(path))}

    rows = score_each(list(texts), score, "asr")
    out_dir = args.out or default_output_dir(ROOT, "asr")
    facts = ["recognizer: pocketsphinx en-us (wheel model)", f"inputs: {args.manifest or ' '.join(args.inputs)}"]
    notes = ["Lower is better. Transcripts are lower-cased and stripped of punctuation before scoring; numbers are "
             "compared as written. pocketsphinx is a weak recognizer: compare systems on the same sentences."]
    report = write_batch_report(out_dir, "asr", "Intelligibility report (ASR error rates)", rows, ["wer", "cer"], facts, notes)
    print(json.dumps({"output_dir": str(out_dir), **{k: v for k, v in report.items() if k != "per_file"}}, indent=2))
    return 0 if report["scored"] else 1


if __name__ == "__main__":
    sys.exit(main())
