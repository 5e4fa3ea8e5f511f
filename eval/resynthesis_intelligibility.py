#!/usr/bin/env python
"""Intelligibility ceiling of SoVITS models: held-out English recordings resynthesised from their own
semantic tokens and transcripts (each utterance its own timbre reference), transcribed by pocketsphinx
and scored against the text. Writes report.json, report.md and the resynthesised wavs (<out>/<model>/).

A GPT on top of a SoVITS model can be no more intelligible than this: the tokens here are the
recording's own, so what is lost is lost by the tokens' quantisation, the prior and the decoder. The
recordings are scored too ("recording" row), because pocketsphinx is weak on synthetic voices: read
a model's CER against the recordings' CER on the same sentences, not as an absolute number.
--posterior adds a "<model>/posterior" row: each clip rebuilt from its own posterior mean (no tokens,
no prior), what the decoder alone makes of a perfect latent, to tell the decoder's losses from the
tokens' and the prior's.

examples:
  python eval/resynthesis_intelligibility.py --model base=<SoVITS package> [--posterior] \\
      --manifest data/demo/manifest.without-fillets-v.jsonl --out logs/intelligibility
"""

from __future__ import annotations

import argparse
import os
import sys
from itertools import zip_longest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SONICSYNTH_ROOT", str(ROOT))

METRICS = ("cer", "wer")
REFERENCE_SECONDS = (3.0, 10.0)  # what the resynthesis pipeline accepts as a reference clip


def choose_utterances(utterances: list, split: str, limit: int) -> list:
    """Up to `limit` English utterances of `split` that can be their own reference (3-10 s), taken in
    turn from each speaker so that no one voice dominates the mean."""
    low, high = REFERENCE_SECONDS
    by_speaker: dict[str, list] = {}
    for u in sorted(utterances, key=lambda u: u.id):
        if u.split == split and u.language == "en" and low <= u.duration <= high:
            by_speaker.setdefault(u.speaker, []).append(u)
    interleaved = [u for group in zip_longest(*by_speaker.values()) for u in group if u is not None]
    return interleaved[:limit]


def build_report(models: list[tuple[str, Path]], manifest: Path, split: str, limit: int, out_dir: Path,
                 seed: int, posterior: bool = False) -> dict:
    from tqdm import tqdm

    from sonicsynth.audio import load_audio, save_audio
    from sonicsynth.data.manifest import read_manifest
    from sonicsynth.metrics.asr import PocketsphinxRecognizer, intelligibility_or_missed
    from sonicsynth.metrics.report import markdown_table, summarize, write_report
    from sonicsynth.pipelines.resynth import SoVITSResynthesizer

    chosen = choose_utterances(read_manifest(manifest), split, limit)
    if not chosen:
        raise ValueError(f"{manifest}: no English {split!r} utterance of {REFERENCE_SECONDS[0]:g}-"
                         f"{REFERENCE_SECONDS[1]:g} s to resynthesise")
    recognizer = PocketsphinxRecognizer()
    rate = recognizer.sample_rate
    rows = []
    for u in chosen:
        samples = load_audio(u.audio_file(manifest.parent), rate).samples
        rows.append({"model": "recording", "id": u.id, "text": u.text, **intelligibility_or_missed(samples, rate, u.text, recognizer, name=u.id)})
    sources, names = {}, ["recording"]

    def score(name: str, u, audio, sample_rate: int) -> None:
        out = save_audio(out_dir / name / f"{u.id}.wav", audio, sample_rate)
        samples = load_audio(out, rate).samples
        rows.append({"model": name, "id": u.id, "text": u.text,
                     **intelligibility_or_missed(samples, rate, u.text, recognizer, name=f"{name}/{u.id}")})

    for name, path in models:
        resynthesizer = SoVITSResynthesizer.load(path)
        sources[name] = {"path": str(path), **resynthesizer.source}
        names += [name, f"{name}/posterior"] if posterior else [name]
        for u in tqdm(chosen, desc=name):
            audio_path = u.audio_file(manifest.parent)
            result = resynthesizer.resynthesize(audio_path, u.text, u.language, audio_path, seed=seed)
            score(name, u, result.audio, result.sample_rate)
            if posterior:
                score(f"{name}/posterior", u, resynthesizer.reconstruct(audio_path), resynthesizer.sample_rate)

    summary = {name: summarize([r for r in rows if r["model"] == name], METRICS) for name in names}
    report = {"manifest": str(manifest), "split": split, "utterances": [u.id for u in chosen],
              "speakers": sorted({u.speaker for u in chosen}), "seed": seed, "models": sources,
              "summary": summary, "per_utterance": rows}
    table = markdown_table(["model", *METRICS], [[n, *[summary[n].get(m, {}).get("mean") for m in METRICS]]
                                                 for n in names])
    lines = ["# Resynthesis intelligibility", "",
             f"- {len(chosen)} English `{split}` utterances of {len(report['speakers'])} speakers, each resynthesised "
             f"from its own tokens with itself as the timbre reference; seed {seed}",
             *[f"- {name}: `{info['path']}`" for name, info in sources.items()], "",
             "Means over the utterances (pocketsphinx; lower is better; compare with the recordings' row).", "",
             *table, ""]
    write_report(out_dir, "report", report, "\n".join(lines) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    from sonicsynth.metrics.report import named_path, run_report_command

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", type=named_path, required=True, metavar="NAME=PATH",
                        help="a SoVITS package or checkpoint; repeat for each model")
    parser.add_argument("--manifest", required=True, type=Path, help="a manifest with English utterances")
    parser.add_argument("--split", default="test", help="the utterances to resynthesise (default test)")
    parser.add_argument("--limit", type=int, default=12, help="at most this many utterances (default 12)")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--posterior", action="store_true",
                        help="also score each clip rebuilt from its own posterior mean (the decoder's ceiling)")
    args = parser.parse_args(argv)
    return run_report_command(
        args.out, lambda: build_report(args.model, args.manifest, args.split, args.limit, args.out, args.seed,
                                       args.posterior))


if __name__ == "__main__":
    sys.exit(main())
