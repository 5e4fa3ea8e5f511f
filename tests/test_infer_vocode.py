"""`infer.py task=vocode`: outputs, generation log, and every bad input named in a clear error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sonicsynth.export.package import save_package
from sonicsynth.models.vocoder import HiFiGANGenerator
from sonicsynth.models.vocoder.inference import Vocoder
from sonicsynth.pipelines.vocode import VocodeInputError, vocode

ROOT = Path(__file__).resolve().parents[1]
TINY_GENERATOR = {
    "_target_": "sonicsynth.models.vocoder.HiFiGANGenerator",
    "in_channels": 80, "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
    "upsample_initial_channel": 32, "resblock_type": "2", "resblock_kernel_sizes": [3, 5, 7],
    "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]],
}
MEL = {"sample_rate": 22050, "n_fft": 1024, "hop_length": 256, "win_length": 1024, "n_mels": 80, "fmin": 0.0, "fmax": 8000.0}


@pytest.fixture(scope="module")
def vocoder_package(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    kwargs = {k: v for k, v in TINY_GENERATOR.items() if k != "_target_"}
    generator = HiFiGANGenerator(**kwargs)
    out = tmp_path_factory.mktemp("pkg") / "vocoder"
    return save_package(out, generator.state_dict(), {"generator": TINY_GENERATOR, "mel": MEL}, "vocoder/hifigan")


def speech_like(seconds=0.6, sr=22050, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def run(package, inputs, out_dir, **kwargs):
    return vocode(Vocoder.load(package), inputs, out_dir, parameters={"test": True}, **kwargs)


def test_vocodes_a_directory_with_an_exact_log(vocoder_package, tmp_path):
    inputs = tmp_path / "in"
    (inputs / "spk").mkdir(parents=True)
    sf.write(inputs / "spk" / "a.wav", speech_like(), 22050)
    sf.write(inputs / "b16k.wav", speech_like(sr=16000), 16000)
    sf.write(inputs / "stereo.wav", np.stack([speech_like(), speech_like(seed=1)], 1), 22050)
    np.save(inputs / "m.npy", np.full((80, 10), -5.0, dtype=np.float32))
    log_path = run(vocoder_package, inputs, tmp_path / "out")

    record = json.loads(log_path.read_text())
    outputs = {Path(o["path"]).relative_to(tmp_path / "out").as_posix(): o for o in record["outputs"]}
    assert set(outputs) == {"spk/a.wav", "b16k.wav", "stereo.wav", "m.wav"}
    by_name = {Path(i["path"]).name: i for i in record["inputs"]}
    assert by_name["b16k.wav"]["sample_rate"] == 16000
    assert by_name["b16k.wav"]["duration_sec"] == pytest.approx(0.6)
    assert "resampled from 16000 Hz to 22050 Hz" in by_name["b16k.wav"]["notes"]
    assert any("down-mixed 2 channels" in n for n in by_name["stereo.wav"]["notes"])
    assert outputs["m.wav"]["duration_sec"] == pytest.approx(10 * 256 / 22050)
    # The output has exactly the input's duration.
    assert sf.info(tmp_path / "out" / "spk" / "a.wav").frames == len(speech_like())
    assert record["checkpoint"]["weights_sha256"] and record["seed"] == 0
    assert {"sonicsynth", "torch", "python"} <= record["versions"].keys()
    assert record["timings_sec"]["vocode"] > 0 and all(len(o["sha256"]) == 64 for o in record["outputs"])


def test_same_input_same_output(vocoder_package, tmp_path):
    sf.write(tmp_path / "a.wav", speech_like(), 22050)
    first = json.loads(run(vocoder_package, tmp_path / "a.wav", tmp_path / "o1").read_text())
    second = json.loads(run(vocoder_package, tmp_path / "a.wav", tmp_path / "o2").read_text())
    assert first["outputs"][0]["sha256"] == second["outputs"][0]["sha256"]


def bad_inputs(directory: Path) -> dict[str, str]:
    """Each bad file and the words its error must contain."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "empty.wav").write_bytes(b"")
    sf.write(directory / "truncated.wav", speech_like(), 22050)
    data = (directory / "truncated.wav").read_bytes()
    (directory / "truncated.wav").write_bytes(data[: len(data) // 3])
    (directory / "notes.wav").write_text("not audio at all\n" * 50)
    nan_mel = np.full((80, 12), -4.0, dtype=np.float32)
    nan_mel[3, 5] = np.nan
    np.save(directory / "nan.npy", nan_mel)
    inf_mel = np.full((80, 12), -4.0, dtype=np.float32)
    inf_mel[0, 0] = np.inf
    np.save(directory / "inf.npy", inf_mel)
    np.save(directory / "wrong_bands.npy", np.zeros((64, 12), dtype=np.float32))
    return {
        "empty.wav": "empty",
        "truncated.wav": "truncated",
        "notes.wav": "not a readable audio file",
        "nan.npy": "NaN/inf",
        "inf.npy": "NaN/inf",
        "wrong_bands.npy": "expected a mel array of shape (80, frames)",
    }


def test_each_bad_input_is_named_and_nothing_is_written(vocoder_package, tmp_path):
    expected = bad_inputs(tmp_path / "in")
    sf.write(tmp_path / "in" / "good.wav", speech_like(), 22050)
    with pytest.raises(VocodeInputError) as err:
        run(vocoder_package, tmp_path / "in", tmp_path / "out")
    message = str(err.value)
    for name, problem in expected.items():
        line = next(line for line in message.splitlines() if name in line)
        assert problem in line, (name, line)
    assert not (tmp_path / "out").exists()


def test_skip_bad_inputs_vocodes_the_rest_and_logs_the_bad(vocoder_package, tmp_path):
    expected = bad_inputs(tmp_path / "in")
    sf.write(tmp_path / "in" / "good.wav", speech_like(), 22050)
    record = json.loads(run(vocoder_package, tmp_path / "in", tmp_path / "out", skip_bad_inputs=True).read_text())
    assert [Path(o["path"]).name for o in record["outputs"]] == ["good.wav"]
    assert {Path(s["path"]).name for s in record["skipped_inputs"]} == set(expected)
    leftovers = [p.name for p in (tmp_path / "out").iterdir()]
    assert sorted(leftovers) == ["generation_log.json", "good.wav"]


def test_infer_cli_missing_checkpoint_and_success(vocoder_package, tmp_path):
    sf.write(tmp_path / "a.wav", speech_like(), 22050)
    common = [sys.executable, str(ROOT / "infer.py"), "task=vocode", f"input={tmp_path / 'a.wav'}",
              f"output_dir={tmp_path / 'out'}", f"hydra.run.dir={tmp_path / 'run'}"]
    missing = subprocess.run([*common, f"ckpt={tmp_path / 'nope.ckpt'}"], capture_output=True, text=True)
    assert missing.returncode != 0
    assert f"{tmp_path / 'nope.ckpt'}: no such vocoder checkpoint or package" in missing.stderr
    assert not (tmp_path / "out").exists()
    done = subprocess.run([*common, f"ckpt={vocoder_package}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "a.wav").exists() and (tmp_path / "out" / "generation_log.json").exists()


def test_tampered_package_is_refused_before_vocoding(vocoder_package, tmp_path):
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(vocoder_package, copy)
    weights = copy / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    sf.write(tmp_path / "a.wav", speech_like(), 22050)
    from sonicsynth.export.package import IntegrityError

    with pytest.raises(IntegrityError, match="weights.safetensors"):
        run(copy, tmp_path / "a.wav", tmp_path / "out")
    assert not (tmp_path / "out").exists()
