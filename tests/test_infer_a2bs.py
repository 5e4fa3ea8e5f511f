"""`python infer.py task=a2bs`: speech -> JSON, Live Link CSV, PNG, preview MP4 and the generation log;
the ONNX export of the predictor; the evaluation report and the streaming benchmark."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonicsynth.data.manifest import read_manifest
from sonicsynth.models.face.motion_io import LIVE_LINK_HEADER, read_motion_json
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def a2bs_checkpoint(av_corpus: Path, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("a2bs")
    train(compose_config("train", [
        "experiment=a2bs_synthetic", "model=a2bs_tiny", f"data.manifest={av_corpus}",
        f"data.cache_dir={run_dir / 'cache'}", "data.held_out_identities=[festival-kal]", "data.items_per_epoch=4",
        "data.batch_size=2", "data.window_frames=40", "trainer.max_epochs=1", "validate_before_training=false",
        "logger=csv", f"paths.output_dir={run_dir}", f"paths.log_dir={run_dir}",
    ]))
    return run_dir / "checkpoints" / "last.ckpt"


def _speech(av_corpus: Path) -> Path:
    return next(u for u in read_manifest(av_corpus) if u.speaker == "festival-kal").audio_file(av_corpus.parent)


def _infer(*overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "infer.py"), "task=a2bs", *overrides],
                          capture_output=True, text=True, env=ENV)


def test_infer_writes_every_output_and_the_log(a2bs_checkpoint, av_corpus, tmp_path):
    from sonicsynth.video import probe_video

    audio = _speech(av_corpus)
    done = _infer(f"ckpt={a2bs_checkpoint}", f"audio={audio}", "face.style=news_anchor", "face.dynamic_scale=1.2",
                  "text='The *weather* was lovely, was it not?'", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "outputs"
    name = audio.stem
    samples, rate = sf.read(audio)
    frames = int(np.ceil(len(samples) / rate * 25 - 1e-9))
    motion, meta = read_motion_json(out / f"{name}.json")
    assert abs(motion.num_frames - frames) <= 1 and meta["style"] == "news_anchor"
    with open(out / f"{name}.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == tuple(LIVE_LINK_HEADER) and len(rows) == motion.num_frames + 1
    assert (out / f"{name}.png").stat().st_size > 10_000
    preview = probe_video(out / f"{name}_preview.mp4")
    assert preview.has_audio and abs(preview.duration - motion.duration) < 0.1 and preview.width == 224
    log = json.loads((out / f"{name}.log.json").read_text())
    assert log["task"] == "a2bs" and log["postprocess"]["settings"]["dynamic_scale"] == 1.2
    assert log["postprocess"]["settings"]["motion_scale"] == 0.5  # the rest of the preset stays
    assert {event["kind"] for event in log["pose_refinement"]["events"]} >= {"emphasis_nod", "question_raise"}
    assert len(log["outputs"]) == 4 and log["checkpoint"]["kind"] == "training_checkpoint"


def test_silence_gives_a_face_at_rest_and_bad_calls_are_clear(a2bs_checkpoint, tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    done = _infer(f"ckpt={a2bs_checkpoint}", f"audio={silent}", "preview=false", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    log = json.loads((tmp_path / "outputs" / "silent.log.json").read_text())
    assert any("no speech" in note for note in log["notes"])
    motion, _ = read_motion_json(tmp_path / "outputs" / "silent.json")
    assert motion.num_frames == 25 and not motion.pose.any()
    assert not np.delete(motion.blendshapes, [8, 9], axis=1).any()  # only the injected blinks move
    missing = _infer(f"ckpt={a2bs_checkpoint}", f"hydra.run.dir={tmp_path / 'missing'}")
    assert missing.returncode != 0 and "task=a2bs needs audio=" in missing.stderr
    unknown = _infer(f"ckpt={a2bs_checkpoint}", f"audio={silent}", "face.style=opera", f"hydra.run.dir={tmp_path / 's'}")
    assert unknown.returncode != 0 and "unknown face style 'opera'" in unknown.stderr


def test_onnx_export_matches_pytorch(a2bs_checkpoint, tmp_path):
    out = tmp_path / "a2bs.onnx"
    done = subprocess.run([sys.executable, "-m", "sonicsynth.export", "face-onnx", str(a2bs_checkpoint), str(out)],
                          capture_output=True, text=True, env=ENV)
    assert done.returncode == 0, done.stderr
    differences = json.loads(done.stdout.strip().splitlines()[-1])["max_abs_difference_vs_pytorch"]
    assert out.exists() and max(differences.values()) < 1e-4


def test_report_and_streaming_benchmark_print_json(a2bs_checkpoint, av_corpus):
    report = subprocess.run([sys.executable, str(ROOT / "eval" / "face_motion_report.py"), "--ckpt",
                             str(a2bs_checkpoint), "--manifest", str(av_corpus)], capture_output=True, text=True, env=ENV)
    assert report.returncode == 0, report.stderr
    result = json.loads(report.stdout)
    assert result["held_out"] == ["festival-kal"]
    assert set(result["summary"]) == {"seen_identities", "unseen_identity"}
    assert 0 <= result["summary"]["unseen_identity"]["mouth_l1"] <= 1
    bench = subprocess.run([sys.executable, str(ROOT / "eval" / "bench_face_streaming.py"), "--ckpt",
                            str(a2bs_checkpoint), "--manifest", str(av_corpus), "--utterances", "1", "--chunk-ms", "100"],
                           capture_output=True, text=True, env=ENV)
    assert bench.returncode == 0, bench.stderr
    timing = json.loads(bench.stdout)
    assert timing["streaming"][0]["max_abs_difference_to_offline"] < 1e-3 and timing["built_in_latency_ms"] > 0
