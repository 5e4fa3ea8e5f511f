"""Vocoder speed benchmark; prints one JSON document (and writes it with --out).

Inference: real-time factor (compute seconds per second of audio; below 1 is faster than real
time) of the HiFi-GAN generators V1 and V3 on the same random mel, side by side in one run:
  eager_weight_norm   PyTorch as trained (weight norm recomputed at every call)
  eager_folded        PyTorch with weight norm folded into the weights (what infer.py runs)
  onnxruntime         the exported ONNX graph in ONNX Runtime (CPU)
plus CUDA eager timings when a GPU is present. Weights are random: speed does not depend on them.
Each back end's max |output - eager_weight_norm| is reported as a sanity column.

Training: steps/s of the full GAN step (discriminator + generator updates) on a fixed batch.

    python eval/bench_vocoder.py [--variants v1 v3] [--seconds 10] [--runs 5] [--out bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SONICSYNTH_ROOT", str(ROOT))

import lightning as L  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from sonicsynth.export.runtime_formats import export_onnx, onnx_session  # noqa: E402
from sonicsynth.utils.atomic import atomic_write  # noqa: E402
from sonicsynth.utils.machine import cpu_model  # noqa: E402
from sonicsynth.utils.hydra_config import compose_config  # noqa: E402

MODEL_CONFIGS = {"v1": "hifigan_v1", "v2": "hifigan_v2", "v3": "hifigan_v3", "tiny": "hifigan_tiny"}


def model_config(variant: str):
    return compose_config("train", [f"model={MODEL_CONFIGS[variant]}"]).model


def build_generator(variant: str, state_dict=None) -> torch.nn.Module:
    torch.manual_seed(0)
    generator = instantiate(model_config(variant).generator, _convert_="all").eval()
    if state_dict is not None:
        generator.load_state_dict(state_dict)
    return generator


def median_seconds(fn, warmup: int, runs: int, synchronize=lambda: None) -> float:
    for _ in range(warmup):
        fn()
    synchronize()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timing_entry(seconds: float, audio_seconds: float, difference: float | None) -> dict:
    return {
        "median_sec": seconds,
        "rtf": seconds / audio_seconds,
        "x_realtime": audio_seconds / seconds,
        "max_abs_difference_vs_eager": difference,
    }


def bench_inference(variant: str, audio_seconds: float, warmup: int, runs: int) -> dict:
    config = model_config(variant)
    sample_rate, hop, n_mels = config.mel.sample_rate, config.mel.hop_length, config.mel.n_mels
    frames = int(audio_seconds * sample_rate / hop)
    audio_seconds = frames * hop / sample_rate
    mel = torch.randn(1, n_mels, frames, generator=torch.Generator().manual_seed(0))

    trained_form = build_generator(variant)
    # Separate instances, not deep copies: parametrized modules share a class between copies.
    folded = build_generator(variant, trained_form.state_dict()).remove_weight_norm()
    with torch.inference_mode():
        reference = trained_form(mel)
        folded_out = folded(mel)

    def run_eager(model, x):
        with torch.inference_mode():
            return model(x)

    results = {
        "parameters": sum(p.numel() for p in trained_form.parameters()),
        "audio_seconds": audio_seconds,
        "cpu": {
            "eager_weight_norm": timing_entry(median_seconds(lambda: run_eager(trained_form, mel), warmup, runs), audio_seconds, 0.0),
            "eager_folded": timing_entry(
                median_seconds(lambda: run_eager(folded, mel), warmup, runs),
                audio_seconds,
                float((folded_out - reference).abs().max()),
            ),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(build_generator(variant, trained_form.state_dict()), Path(tmp) / "g.onnx", n_mels)
        session = onnx_session(path, threads=torch.get_num_threads())
        feed = {"mel": mel.numpy()}
        onnx_out = session.run(["audio"], feed)[0]
        seconds = median_seconds(lambda: session.run(["audio"], feed), warmup, runs)
        results["cpu"]["onnxruntime"] = timing_entry(seconds, audio_seconds, float(np.abs(onnx_out - reference.numpy()).max()))

    if torch.cuda.is_available():
        cuda_mel = mel.cuda()
        sync = torch.cuda.synchronize
        results["cuda"] = {
            name: timing_entry(median_seconds(lambda m=model.cuda(): run_eager(m, cuda_mel), warmup, runs, sync), audio_seconds, None)
            for name, model in (("eager_weight_norm", trained_form), ("eager_folded", folded))
        }
    else:
        results["cuda"] = {"skipped": "torch.cuda.is_available() is False"}
    return results


class _FixedBatch(Dataset):
    """The same random audio item every time: the benchmark measures compute, not data loading."""

    def __init__(self, batch_size: int, segment: int, length: int) -> None:
        self.audio = torch.randn(batch_size, segment, generator=torch.Generator().manual_seed(0)).clamp(-1, 1) * 0.5
        self.length = length

    def __len__(self) -> int:
        return self.length * len(self.audio)

    def __getitem__(self, index: int) -> dict:
        return {"audio": self.audio[index % len(self.audio)]}


class _StepTimer(L.Callback):
    def __init__(self) -> None:
        self.durations: list[float] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.durations.append(time.perf_counter() - self._start)


def bench_training(variant: str, batch_size: int, segment: int, warmup: int, steps: int) -> dict:
    config = model_config(variant)
    torch.manual_seed(0)
    module = instantiate(config)
    timer = _StepTimer()
    trainer = L.Trainer(
        accelerator="auto",
        devices=1,
        max_epochs=1,
        limit_train_batches=warmup + steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    loader = DataLoader(_FixedBatch(batch_size, segment, warmup + steps), batch_size=batch_size)
    trainer.fit(module, train_dataloaders=loader)
    seconds = statistics.median(timer.durations[warmup:])
    audio_per_step = batch_size * segment / config.mel.sample_rate
    return {
        "model": MODEL_CONFIGS[variant],
        "device": str(trainer.strategy.root_device),
        "batch_size": batch_size,
        "segment_samples": segment,
        "timed_steps": steps,
        "median_step_sec": seconds,
        "steps_per_sec": 1.0 / seconds,
        "audio_sec_per_sec": audio_per_step / seconds,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["v1", "v3"], choices=sorted(MODEL_CONFIGS))
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length of the inference input")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--train-model", default="v3", choices=sorted(MODEL_CONFIGS))
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--train-segment", type=int, default=8192)
    parser.add_argument("--train-steps", type=int, default=3)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny settings, for tests")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.variants, args.seconds, args.runs, args.warmup = ["tiny"], 0.5, 1, 0
        args.train_model, args.train_batch, args.train_segment, args.train_steps = "tiny", 1, 2048, 1

    report = {
        "benchmark": "vocoder",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "torch": torch.__version__,
        },
        "settings": {"runs": args.runs, "warmup": args.warmup, "statistic": "median", "weights": "random (speed only)"},
        "inference": {v: bench_inference(v, args.seconds, args.warmup, args.runs) for v in args.variants},
    }
    if not args.skip_train:
        report["training"] = bench_training(args.train_model, args.train_batch, args.train_segment, 1, args.train_steps)
    text = json.dumps(report, indent=2)
    if args.out:
        with atomic_write(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
