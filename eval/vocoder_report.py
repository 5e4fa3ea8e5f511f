"""Copy-synthesis evaluation of a vocoder on a manifest split: vocode each utterance from its own
mel, then compare with the original. Writes the vocoded wavs, the generation log, report.json,
report.md and PNG figures into the run directory.

    python eval/vocoder_report.py ckpt=<package dir or .ckpt> [manifest=...] [split=test]
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SONICSYNTH_ROOT", str(ROOT))

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

log = logging.getLogger("vocoder_report")


def build_report(cfg: DictConfig) -> dict:
    from tqdm import tqdm

    from sonicsynth.audio import MelSpectrogram, load_audio
    from sonicsynth.data.manifest import read_manifest
    from sonicsynth.metrics.report import plot_distributions, summarize, summary_markdown, write_report
    from sonicsynth.metrics.spectral import mel_l1, multi_resolution_stft
    from sonicsynth.models.vocoder.inference import Vocoder
    from sonicsynth.pipelines.vocode import vocode
    from sonicsynth.utils.plotting import plot_spectrograms, save_figure

    out_dir = Path(cfg.output_dir)
    manifest = Path(cfg.manifest)
    utterances = [u for u in read_manifest(manifest) if u.split == cfg.split][: cfg.max_items]
    if not utterances:
        raise ValueError(f"{manifest}: no utterances in split {cfg.split!r}")
    vocoder = Vocoder.load(cfg.ckpt, trust=cfg.trust_checkpoint).remove_weight_norm().to(cfg.device)
    sources = [u.audio_file(manifest.parent) for u in utterances]
    log_path = vocode(vocoder, sources, out_dir / "vocoded", OmegaConf.to_container(cfg, resolve=True))
    generation = json.loads(log_path.read_text())

    # Full-band log-mel, as the vocoder's training loss and validation metric compute it.
    metric_mel = MelSpectrogram(**{**vocoder.config["mel"], "fmax": None})
    rows = []
    for utterance, source, output in tqdm(list(zip(utterances, sources, generation["outputs"])), desc="metrics"):
        reference = load_audio(source, vocoder.sample_rate).samples
        estimate = load_audio(output["path"]).samples
        rows.append(
            {
                "id": utterance.id,
                "speaker": utterance.speaker,
                "source": utterance.source,
                "duration_sec": round(len(reference) / vocoder.sample_rate, 4),
                "mel_l1": mel_l1(reference, estimate, metric_mel),
                **multi_resolution_stft(reference, estimate),
            }
        )
        if len(rows) <= 3:
            spectra = {"original": metric_mel(_tensor(reference))[0], "vocoded": metric_mel(_tensor(estimate))[0]}
            figure = plot_spectrograms(spectra, title=utterance.id, hop_seconds=metric_mel.hop_length / vocoder.sample_rate)
            save_figure(figure, out_dir / f"mel_{utterance.id}.png")

    metrics = [k for k in rows[0] if k not in ("id", "speaker", "source", "duration_sec")]
    summary = summarize(rows, metrics)
    report = {
        "checkpoint": vocoder.source,
        "manifest": str(manifest),
        "split": cfg.split,
        "utterances": len(rows),
        "audio_seconds": round(sum(r["duration_sec"] for r in rows), 2),
        "real_time_factor": generation["real_time_factor"],
        "summary": summary,
        "per_utterance": rows,
        "generation_log": str(log_path),
    }
    facts = [
        f"checkpoint: `{report['checkpoint']['path']}`",
        f"data: `{report['manifest']}`, split `{report['split']}`: {report['utterances']} utterances, {report['audio_seconds']} s",
        f"real-time factor (CPU compute s per audio s): {report['real_time_factor']:.3f}",
    ]
    notes = ["Lower is better for every metric. mel_l1 is the full-band log-mel L1 of the training recipe."]
    write_report(out_dir, "report", report, summary_markdown("Vocoder copy-synthesis report", facts, summary, notes))
    plot_distributions(rows, metrics, out_dir / "metric_distributions.png")
    return report


def _tensor(samples):
    import torch

    return torch.from_numpy(samples)


@hydra.main(version_base="1.3", config_path="../configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    from sonicsynth.utils.hydra_config import register_resolvers

    register_resolvers()
    try:
        report = build_report(cfg)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(json.dumps({"output_dir": cfg.output_dir, "summary": report["summary"], "real_time_factor": report["real_time_factor"]}, indent=2))


if __name__ == "__main__":
    main()
