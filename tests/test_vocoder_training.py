"""Training the vocoder through the real entry point and configs (tiny model, tiny corpus, CPU):
checkpoints load with weights_only, resuming is exact, media reach the loggers, and the exported
package, ONNX and TorchScript models agree with PyTorch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from sonicsynth.export.from_checkpoint import package_from_checkpoint
from sonicsynth.export.package import load_package, load_training_checkpoint
from sonicsynth.export.runtime_formats import export_checked
from sonicsynth.models.vocoder.inference import Vocoder
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config

ROOT = Path(__file__).resolve().parents[1]


def tiny_overrides(manifest: Path, run_dir: Path, epochs: int) -> list[str]:
    return [
        "model=hifigan_tiny",
        "trainer=cpu",
        f"data.manifest={manifest}",
        "data.batch_size=2",
        "data.segment_size=2048",
        "data.num_workers=0",
        "data.max_val_items=2",
        "data.val_max_seconds=1.0",
        f"trainer.max_epochs={epochs}",
        "++trainer.limit_train_batches=2",
        "trainer.log_every_n_steps=1",
        f"paths.output_dir={run_dir}",
        f"paths.log_dir={run_dir}",
    ]


def compose_train(overrides: list[str]) -> DictConfig:
    return compose_config("train", overrides)


def generator_weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    state = load_training_checkpoint(checkpoint)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("generator.")}


@pytest.fixture(scope="module")
def two_epoch_run(tiny_corpus, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("run_full")
    train(compose_train([*tiny_overrides(tiny_corpus, run_dir, epochs=2), "logger=many_loggers"]))
    return run_dir


def test_checkpoint_is_safe_to_load_and_names_its_family(two_epoch_run):
    checkpoint = load_training_checkpoint(two_epoch_run / "checkpoints" / "last.ckpt")  # weights_only=True
    assert checkpoint["sonicsynth"]["family"] == "vocoder/hifigan"
    # 2 epochs x 2 batches; Lightning counts each of the two optimizer steps of a GAN batch.
    assert checkpoint["global_step"] == 8 and checkpoint["epoch"] == 1
    assert len(checkpoint["sonicsynth"]["compatibility_id"]) == 32


def test_resuming_from_last_checkpoint_is_exact(tiny_corpus, two_epoch_run, tmp_path):
    first_half = tmp_path / "half"
    train(compose_train(tiny_overrides(tiny_corpus, first_half, epochs=1)))
    resumed = tmp_path / "resumed"
    last = first_half / "checkpoints" / "last.ckpt"
    train(compose_train([*tiny_overrides(tiny_corpus, resumed, epochs=2), f"ckpt_path={last}"]))

    straight = generator_weights(two_epoch_run / "checkpoints" / "last.ckpt")
    continued = generator_weights(resumed / "checkpoints" / "last.ckpt")
    assert straight.keys() == continued.keys()
    assert all(torch.equal(straight[k], continued[k]) for k in straight)
    # The run keeps its compatibility id across the resume.
    ids = {load_training_checkpoint(p)["sonicsynth"]["compatibility_id"] for p in (last, resumed / "checkpoints" / "last.ckpt")}
    assert len(ids) == 1


def test_audio_and_mel_plots_reach_the_loggers(two_epoch_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((two_epoch_run / "tensorboard").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    tags = events.Tags()
    assert "val/0/generated" in tags["audio"] and "val/0/real" in tags["audio"]
    assert "val/0/mel" in tags["images"]
    assert {"val/mel_l1", "train/loss_g", "train/loss_d", "train/mel_l1"} <= set(tags["scalars"])
    # Validation ran before the first step (step 0) and after each epoch.
    assert len(events.Scalars("val/mel_l1")) == 3
    # The CSV logger has no media support: the files land in its directory instead.
    media = list((two_epoch_run / "csv").rglob("media/*"))
    assert any(p.suffix == ".wav" for p in media) and any(p.suffix == ".png" for p in media)


def test_export_package_onnx_and_torchscript(two_epoch_run, tmp_path):
    last = two_epoch_run / "checkpoints" / "last.ckpt"
    package = package_from_checkpoint(last, tmp_path / "package")
    manifest = load_package(package, family="vocoder/hifigan").manifest
    assert manifest["compatibility_id"] == load_training_checkpoint(last)["sonicsynth"]["compatibility_id"]

    from_package, from_checkpoint = Vocoder.load(package), Vocoder.load(last)
    mel = torch.randn(1, 80, 30)
    assert torch.equal(from_package(mel), from_checkpoint(mel))
    for fmt, name in (("onnx", "g.onnx"), ("torchscript", "g.pt")):
        assert export_checked(fmt, Vocoder.load(package).generator, tmp_path / name, n_mels=80) < 1e-4


def test_train_cli_runs_an_experiment(tiny_corpus, tmp_path):
    overrides = [o for o in tiny_overrides(tiny_corpus, tmp_path, epochs=1) if not o.startswith("paths.")]
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *overrides, f"hydra.run.dir={tmp_path}", "logger=csv"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "config_resolved.yaml").exists()


def test_audio_metrics_callback_logs_validation_metrics(tiny_corpus, tmp_path):
    overrides = [
        *tiny_overrides(tiny_corpus, tmp_path, epochs=1),
        "logger=csv",
        "+callbacks.audio_metrics._target_=sonicsynth.metrics.callbacks.AudioMetricsCallback",
        "+callbacks.audio_metrics.metrics=[pesq_wb,stoi,mcd_db]",
        "+callbacks.audio_metrics.every_n_epochs=1",
    ]
    metrics = train(compose_train(overrides))
    # An untrained generator: poor but real scores, each within its metric's range.
    assert 1.0 <= metrics["val/pesq_wb"] <= 4.65
    assert -0.5 <= metrics["val/stoi"] <= 1.0
    assert metrics["val/mcd_db"] > 0
    assert metrics["val/pesq_wb_failed"] == 0
