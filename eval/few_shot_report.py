#!/usr/bin/env python
"""Few-shot voice report: held-out sentences of the target speaker resynthesised by SoVITS models
(a base and its fine-tuned version), each with the same reference clip of the speaker, scored against
the recordings. Writes report.json, report.md and the resynthesised wavs (<out>/<model name>/).

Per model and sentence:
- speaker_similarity: resemblyzer cosine between the resynthesis and the recording of that sentence;
- speaker_similarity_centroid: cosine with the mean embedding of the speaker's training clips (the
  voice as the fine-tuning heard it, not one sentence);
- dnsmos_ovrl / dnsmos_sig / dnsmos_bak (noise and distortion, not naturalness);
- mel_l1: full-band log-mel L1 against the recording (the tokens keep the recording's timing).
The recordings themselves are scored too ("recording" row: the ceiling of the similarities).

examples:
  python eval/few_shot_report.py --model base=<base package> --model fine_tuned=<package> \\
      --manifest data/demo/manifest.fillets-v.jsonl --out logs/voice_demo/report
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SONICSYNTH_ROOT", str(ROOT))

log = logging.getLogger("few_shot_report")

METRICS = ("speaker_similarity", "speaker_similarity_centroid", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "mel_l1")
REFERENCE_SECONDS = (3.0, 10.0)  # what the resynthesis pipeline accepts as a reference clip


def choose_reference(train_clips: list):
    """The longest training clip the pipeline accepts as a reference (3-10 s)."""
    low, high = REFERENCE_SECONDS
    usable = [u for u in train_clips if low <= u.duration <= high]
    if not usable:
        raise ValueError(f"no training clip of {low:g}-{high:g} s to use as the timbre reference")
    return max(usable, key=lambda u: (u.duration, u.id))


def score(samples, sample_rate: int, recording, recording_embedding, centroid, similarity, mel) -> dict[str, float]:
    """The report's metrics of one clip against the recording of its sentence (and its embedding)."""
    import numpy as np

    from sonicsynth.metrics.base import MetricError
    from sonicsynth.metrics.quality import dnsmos_or_nan
    from sonicsynth.metrics.spectral import mel_l1
    from sonicsynth.metrics.speaker import cosine

    row: dict[str, float] = {}
    try:
        embedding = similarity.embed(samples, sample_rate, name="resynthesis")
        row["speaker_similarity"] = cosine(recording_embedding, embedding)
        row["speaker_similarity_centroid"] = cosine(centroid, embedding)
    except MetricError as err:  # e.g. no speech left after resemblyzer's VAD: reported, not fatal
        log.warning("speaker similarity: %s", err)
        row["speaker_similarity"] = row["speaker_similarity_centroid"] = float("nan")
    row.update(dnsmos_or_nan(samples, sample_rate, name="resynthesis"))
    length = min(len(samples), len(recording))
    row["mel_l1"] = mel_l1(np.asarray(recording[:length]), np.asarray(samples[:length]), mel)
    return row


def build_report(models: list[tuple[str, Path]], manifest: Path, split: str, out_dir: Path, seed: int) -> dict:
    import numpy as np
    from tqdm import tqdm

    from sonicsynth.audio import MelSpectrogram, load_audio, save_audio
    from sonicsynth.data.manifest import read_manifest
    from sonicsynth.metrics.report import markdown_table, summarize, write_report
    from sonicsynth.metrics.speaker import SpeakerSimilarity
    from sonicsynth.pipelines.resynth import SoVITSResynthesizer

    utterances = read_manifest(manifest)
    speakers = sorted({u.speaker for u in utterances})
    if len(speakers) != 1:
        raise ValueError(f"{manifest}: a few-shot set has one speaker, found {len(speakers)} ({', '.join(speakers)})")
    held_out = [u for u in utterances if u.split == split]
    train = [u for u in utterances if u.split == "train"]
    if not held_out or not train:
        raise ValueError(f"{manifest}: needs train clips and {split!r} clips (has {len(train)} and {len(held_out)})")
    reference = choose_reference(train)
    similarity = SpeakerSimilarity()
    rate = similarity.sample_rate
    centroid = np.mean([similarity.embed(load_audio(u.audio_file(manifest.parent), rate).samples, rate, name=u.id)
                        for u in train], axis=0)
    centroid /= np.linalg.norm(centroid)
    mel = MelSpectrogram(sample_rate=rate, n_fft=1024, hop_length=256, win_length=1024, n_mels=80)

    # Each recording loaded and embedded once: the reference of every model's resynthesis of it.
    recordings = {u.id: load_audio(u.audio_file(manifest.parent), rate).samples for u in held_out}
    embeddings = {i: similarity.embed(samples, rate, name=i) for i, samples in recordings.items()}
    rows = [{"model": "recording", "id": i,
             **score(samples, rate, samples, embeddings[i], centroid, similarity, mel)} for i, samples in recordings.items()]
    sources = {}
    for name, path in models:
        resynthesizer = SoVITSResynthesizer.load(path)
        sources[name] = {"path": str(path), **resynthesizer.source}
        for utterance in tqdm(held_out, desc=name):
            result = resynthesizer.resynthesize(utterance.audio_file(manifest.parent), utterance.text,
                                                utterance.language, reference.audio_file(manifest.parent), seed=seed)
            save_audio(out_dir / name / f"{utterance.id}.wav", result.audio, result.sample_rate)
            samples = load_audio(out_dir / name / f"{utterance.id}.wav", rate).samples
            rows.append({"model": name, "id": utterance.id, **score(samples, rate, recordings[utterance.id],
                                                                     embeddings[utterance.id], centroid, similarity, mel)})

    summary = {name: summarize([r for r in rows if r["model"] == name], METRICS)
               for name in ["recording", *[n for n, _ in models]]}
    names = [n for n, _ in models]
    gain, improved = None, None
    if len(names) >= 2:
        first, last = (summary[n].get("speaker_similarity", {}).get("mean") for n in (names[0], names[-1]))
        gain = None if first is None or last is None else last - first
        by_id = {(r["model"], r["id"]): r["speaker_similarity"] for r in rows}
        improved = sum(by_id[(names[-1], u.id)] > by_id[(names[0], u.id)] for u in held_out)
    report = {
        "manifest": str(manifest), "speaker": speakers[0], "split": split, "utterances": len(held_out),
        "train_seconds": round(sum(u.duration for u in train), 2), "reference": reference.id, "seed": seed,
        "models": sources, "summary": summary, "speaker_similarity_gain": gain,
        "sentences_more_similar": improved, "per_utterance": rows,
    }
    header = ["model", *METRICS]
    table = markdown_table(header, [[name, *[summary[name].get(m, {}).get("mean") for m in METRICS]] for name in summary])
    lines = [
        "# Few-shot voice report", "",
        f"- speaker `{speakers[0]}`: {len(held_out)} held-out `{split}` sentences; fine-tuning heard "
        f"{report['train_seconds']} s of train clips; timbre reference `{reference.id}`; seed {seed}",
        *[f"- {name}: `{info['path']}`" for name, info in sources.items()], "",
        "Means over the sentences (speaker similarities and DNSMOS: higher is better; mel_l1: lower is better).", "",
        *table, "",
    ]
    if gain is not None:
        lines.append(f"Speaker similarity {names[-1]} - {names[0]}: {gain:+.4f}, higher for {improved} of "
                     f"{len(held_out)} sentences")
    write_report(out_dir, "report", report, "\n".join(lines) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    from sonicsynth.metrics.report import named_path, run_report_command

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", type=named_path, required=True, metavar="NAME=PATH",
                        help="a SoVITS package or checkpoint; repeat for each model (the first is the baseline)")
    parser.add_argument("--manifest", required=True, type=Path, help="the speaker's few-shot manifest")
    parser.add_argument("--split", default="test", help="the held-out sentences to resynthesise (default test)")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return run_report_command(args.out, lambda: build_report(args.model, args.manifest, args.split, args.out, args.seed),
                              headline=["speaker_similarity_gain"])


if __name__ == "__main__":
    sys.exit(main())
