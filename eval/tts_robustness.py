#!/usr/bin/env python
"""TTS robustness report: a fixed set of English sentences (none of them in the demo corpus) spoken in
a reference's voice by a GPT + SoVITS pair, each scored. Writes report.json, report.md and the wavs.

Per sentence:
- cer / wer: character / word error rate of a pocketsphinx transcript against the sentence, the
  proxy for skipped and repeated words (pocketsphinx is weak: compare systems on the same
  sentences, do not read the numbers as absolute);
- speaker_similarity: resemblyzer cosine between the speech and the reference clip;
- dnsmos_ovrl / dnsmos_sig / dnsmos_bak (noise and distortion, not naturalness);
- stopped_at_eos: whether every piece ended with end-of-speech before the length limit;
- seconds: the length of the speech (a GPT that has not learnt to follow the text gives every
  sentence about the same length: compare with the sentence's length in characters);
- real_time_factor: synthesis seconds per second of speech on this machine.
The reference clip itself is scored too ("reference" row).

examples:
  python eval/tts_robustness.py --gpt <GPT package> --sovits <SoVITS package> \\
      --ref-audio <3-10 s wav> --ref-text "<its transcript>" --ref-lang cs --out logs/tts_report
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SONICSYNTH_ROOT", str(ROOT))

log = logging.getLogger("tts_robustness")

# New text for every demo model: statements, a question, numbers spelled out, a long sentence with
# clauses (the pieces the pipeline cuts), short ones (where a GPT is prone to stop early or run on).
SENTENCES: tuple[str, ...] = (
    "The river was calm after the storm.",
    "Could you bring the green folder to my office?",
    "She planted seven small trees behind the old school.",
    "We left early, but the road was already full of cars.",
    "Thank you.",
    "A bright light moved slowly across the northern sky.",
    "When the music stopped, everyone turned towards the door, waiting for someone to speak first.",
    "Please check the numbers twice before you send the letter.",
)


def add_speaking_arguments(parser: argparse.ArgumentParser) -> None:
    """What this report and eval/bench_tts.py both take: the GPT + SoVITS pair, the reference clip
    (with its transcript, or none for reference-free speech), the sentences, seed and top-k."""
    parser.add_argument("--gpt", required=True, type=Path, help="GPT package, training .ckpt or published s1 file")
    parser.add_argument("--sovits", required=True, type=Path, help="the SoVITS model the GPT was trained with")
    parser.add_argument("--ref-audio", required=True, type=Path, help="3-10 s clip of the voice")
    parser.add_argument("--ref-text", default=None, help="its transcript (omit: reference-free)")
    parser.add_argument("--ref-lang", default="en", help="its language (default en)")
    parser.add_argument("--sentences", type=Path, default=None, help="a text file, one sentence a line (default: the fixed set)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-k", type=int, default=15)


def read_sentences(path: Path | None) -> list[str]:
    """The sentences of a text file, one a line (blank lines skipped); None: the fixed set."""
    if path is None:
        return list(SENTENCES)
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


METRICS = ("cer", "wer", "speaker_similarity", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "stopped_at_eos",
           "seconds", "real_time_factor")


def score(samples, sample_rate: int, text: str | None, reference_embedding, similarity, recognizer) -> dict:
    """The report's metrics of one clip (intelligibility only when its text is given)."""
    from sonicsynth.metrics.asr import intelligibility_or_missed
    from sonicsynth.metrics.base import MetricError
    from sonicsynth.metrics.quality import dnsmos_or_nan
    from sonicsynth.metrics.speaker import cosine

    row: dict = {}
    if text is not None:
        scores = intelligibility_or_missed(samples, sample_rate, text, recognizer, name="speech")
        row.update(cer=scores["cer"], wer=scores["wer"], hypothesis=scores["hypothesis"])
    try:
        row["speaker_similarity"] = cosine(reference_embedding, similarity.embed(samples, sample_rate, name="speech"))
    except MetricError as err:
        log.warning("speaker similarity: %s", err)
        row["speaker_similarity"] = float("nan")
    row.update(dnsmos_or_nan(samples, sample_rate, name="speech"))
    return row


def build_report(args: argparse.Namespace, sentences: list[str]) -> dict:
    from tqdm import tqdm

    from sonicsynth.audio import load_audio, save_audio
    from sonicsynth.metrics.asr import PocketsphinxRecognizer
    from sonicsynth.metrics.report import markdown_table, summarize, write_report
    from sonicsynth.metrics.speaker import SpeakerSimilarity
    from sonicsynth.models.gpt.decoding import SamplingSettings
    from sonicsynth.pipelines.tts import TextToSpeech

    speaker = TextToSpeech.load(args.gpt, args.sovits, sampling=SamplingSettings(top_k=args.top_k))
    similarity, recognizer = SpeakerSimilarity(), PocketsphinxRecognizer()
    rate = similarity.sample_rate
    reference_samples = load_audio(args.ref_audio, rate).samples
    reference_embedding = similarity.embed(reference_samples, rate, name=str(args.ref_audio))
    rows = [{"id": "reference", "text": args.ref_text,
             **score(reference_samples, rate, None, reference_embedding, similarity, recognizer)}]
    prompt = speaker.prepare_reference(args.ref_audio, args.ref_text, args.ref_lang)
    for index, text in enumerate(tqdm(sentences, desc="sentences")):
        start = time.perf_counter()
        pieces = list(speaker.stream(text, "en", prompt, seed=args.seed))
        seconds = time.perf_counter() - start
        audio = speaker.join(pieces)
        path = save_audio(args.out / f"sentence{index:02d}.wav", audio, speaker.sovits.sample_rate)
        samples = load_audio(path, rate).samples
        rows.append({"id": f"sentence{index:02d}", "text": text,
                     **score(samples, rate, text, reference_embedding, similarity, recognizer),
                     "stopped_at_eos": float(all(p.stopped_at_eos for p in pieces)),
                     "seconds": len(audio) / speaker.sovits.sample_rate,
                     "real_time_factor": seconds / max(len(audio) / speaker.sovits.sample_rate, 1e-9)})

    spoken = [r for r in rows if r["id"] != "reference"]
    summary = {"tts": summarize(spoken, METRICS), "reference": summarize(rows[:1], METRICS)}
    report = {"gpt": speaker.gpt_info["source"], "sovits": speaker.sovits.source, "reference": str(args.ref_audio),
              "reference_text": args.ref_text, "seed": args.seed, "top_k": args.top_k, "sentences": len(sentences),
              "summary": summary, "per_sentence": rows}
    table = markdown_table(["", *METRICS], [[name, *[summary[name].get(m, {}).get("mean") for m in METRICS]]
                                            for name in summary])
    per_sentence = markdown_table(["sentence", "characters", "seconds", "cer", "heard"],
                                  [[r["text"], len(r["text"]), r["seconds"], r["cer"], r["hypothesis"]] for r in spoken])
    lines = ["# TTS robustness report", "",
             f"- GPT `{args.gpt}`, SoVITS `{args.sovits}`; reference `{args.ref_audio}`; seed {args.seed}",
             f"- {len(sentences)} English sentences; CER/WER from pocketsphinx (relative, not absolute)", "",
             "Means over the sentences (cer, wer, real_time_factor: lower is better).", "", *table, "",
             "Per sentence (what pocketsphinx heard):", "", *per_sentence, ""]
    write_report(args.out, "report", report, "\n".join(lines) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    from sonicsynth.metrics.report import run_report_command

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_speaking_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    args = parser.parse_args(argv)
    return run_report_command(args.out, lambda: build_report(args, read_sentences(args.sentences)))


if __name__ == "__main__":
    sys.exit(main())
