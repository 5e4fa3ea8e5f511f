#!/usr/bin/env python
"""End-to-end TTS speed: text + reference clip -> speech through a trained GPT + SoVITS pair, timed
stage by stage; prints one JSON document (and writes it with --out).

The sentences are eval/tts_robustness.py's fixed English set (or --sentences), so the speed and the
quality reports speak of the same work. Stages, each summed over the sentences after one warm-up sentence:
  front_end   text -> pieces -> phone ids (CMUdict / espeak-ng; on the CPU wherever the models run)
  gpt         semantic-token decoding (key/value cache, the published sampling settings)
  sovits      tokens + phones + reference spectrogram -> waveform
and the reference clip's preparation (once per voice: its spectrogram, transcript phones and
semantic tokens). real_time_factor = (front_end + gpt + sovits) / seconds of speech: below 1 is
faster than real time. first_audio_sec is the mean time from the text to its first spoken piece,
what a streaming caller waits. GPU timings are synchronised: every stage ends by copying its result
to the host.

    python eval/bench_tts.py --gpt <GPT package> --sovits <SoVITS package> --ref-audio <3-10 s wav> \\
        --ref-text "<its transcript>" [--ref-lang cs] [--device cpu|cuda] [--runs 1] [--out bench.json]
        [--content-model <package>] [--sentences <file>] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SONICSYNTH_ROOT", str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

import torch  # noqa: E402

from sonicsynth.models.gpt.decoding import SamplingSettings  # noqa: E402
from sonicsynth.pipelines.tts import TextToSpeech  # noqa: E402
from sonicsynth.utils.atomic import atomic_write  # noqa: E402
from sonicsynth.utils.machine import torch_machine  # noqa: E402
from tts_robustness import add_speaking_arguments, read_sentences  # noqa: E402

STAGES = ("front_end", "gpt", "sovits")


def speak_timed(speaker: TextToSpeech, text: str, reference, seed: int) -> dict:
    """One sentence, stage by stage (the same calls as `TextToSpeech.speak`, timed apart)."""
    start = time.perf_counter()
    plan = speaker.plan(text, "en")
    front_end = time.perf_counter() - start
    pieces = []
    for index, (piece_text, phone_ids, bert) in enumerate(plan):
        pieces.append(speaker.speak_piece(index, piece_text, phone_ids, reference, seed, bert))
        if index == 0:
            first_audio = time.perf_counter() - start
    audio_seconds = len(speaker.join(pieces)) / speaker.sovits.sample_rate
    return {"front_end": front_end, "gpt": sum(p.seconds["gpt"] for p in pieces),
            "sovits": sum(p.seconds["sovits"] for p in pieces), "first_audio": first_audio,
            "audio": audio_seconds, "tokens": sum(len(p.tokens) for p in pieces), "pieces": len(pieces),
            "stopped_at_eos": all(p.stopped_at_eos for p in pieces)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_speaking_arguments(parser)
    parser.add_argument("--content-model", default=None,
                        help="the content model's package on this machine, for ctc_content SoVITS models (infer.py's content.model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--runs", type=int, default=1, help="passes over the sentences")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sentences = read_sentences(args.sentences)

    start = time.perf_counter()
    speaker = TextToSpeech.load(args.gpt, args.sovits, content={"model": args.content_model}, device=args.device,
                                sampling=SamplingSettings(top_k=args.top_k))
    load_seconds = time.perf_counter() - start
    reference_seconds = []
    for _ in range(2):  # the first call also warms up the content extractor and the kernels
        start = time.perf_counter()
        reference = speaker.prepare_reference(args.ref_audio, args.ref_text, args.ref_lang)
        reference_seconds.append(time.perf_counter() - start)
    speak_timed(speaker, sentences[0], reference, args.seed)  # warm-up

    rows = [speak_timed(speaker, text, reference, args.seed + run)
            for run in range(args.runs) for text in sentences]
    total = {key: sum(row[key] for row in rows) for key in (*STAGES, "audio", "tokens")}
    compute = sum(total[stage] for stage in STAGES)
    device = torch.device(args.device)
    report = {
        "benchmark": "tts",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": torch_machine(device),
        "models": {"gpt": str(args.gpt), "sovits": str(args.sovits),
                   "gpt_parameters": sum(p.numel() for p in speaker.gpt.parameters()),
                   "sovits_parameters": sum(p.numel() for p in speaker.sovits.generator.parameters())},
        "settings": {"sentences": len(sentences), "runs": args.runs, "seed": args.seed, "top_k": args.top_k,
                     "reference": str(args.ref_audio), "reference_free": args.ref_text is None},
        "load_seconds": load_seconds,
        "reference_seconds": {"first": reference_seconds[0], "warm": reference_seconds[1]},
        "speech_seconds": total["audio"],
        "stage_seconds": {stage: total[stage] for stage in STAGES},
        "stage_share": {stage: total[stage] / compute for stage in STAGES},
        "real_time_factor": compute / total["audio"],
        "gpt_tokens_per_second": total["tokens"] / total["gpt"],
        "first_audio_sec": sum(row["first_audio"] for row in rows) / len(rows),
        "stopped_at_eos": sum(row["stopped_at_eos"] for row in rows) / len(rows),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with atomic_write(args.out, "w") as file:
            file.write(text + "\n")
    return report


if __name__ == "__main__":
    main()
