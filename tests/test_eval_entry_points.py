"""The eval entry points end to end on small real inputs: reports written, bad files reported, the rest scored."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

EVAL = Path(__file__).resolve().parents[1] / "eval"
SENTENCES = ("We will meet at the station before the train leaves tomorrow.", "Please bring the green folder to the office.")


def _entry_point(name: str):
    spec = importlib.util.spec_from_file_location(f"eval_{name}", EVAL / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory) -> Path:
    """Two MBROLA sentences with .txt transcripts beside them, plus a silent and a truncated file."""
    from sonicsynth.data.tts_engines import voice_by_name

    voice = voice_by_name("mbrola-us1")
    if not voice.is_installed():
        pytest.skip("MBROLA voice us1 is not installed (scripts/setup.sh)")
    folder = tmp_path_factory.mktemp("speech")
    for index, sentence in enumerate(SENTENCES):
        voice.synthesize(sentence, folder / f"utt{index}.wav")
        (folder / f"utt{index}.txt").write_text(sentence)
    sf.write(folder / "silent.wav", np.zeros(16000, np.float32), 16000)
    (folder / "silent.txt").write_text("nothing at all")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00")
    return folder


def _report(out: Path, name: str) -> dict:
    assert (out / f"{name}.md").exists() and (out / f"{name}_distributions.png").exists()
    return json.loads((out / f"{name}.json").read_text())


def _errors(report: dict) -> dict[str, str]:
    return {Path(r["file"]).name: r["error"] for r in report["per_file"] if "error" in r}


def test_mos_scores_good_files_and_reports_bad_ones(speech_dir, tmp_path):
    assert _entry_point("mos")([str(speech_dir), "--references", str(speech_dir), "--out", str(tmp_path)]) == 0
    report = _report(tmp_path, "mos")
    assert report["scored"] == 2 and report["failed"] == 2
    errors = _errors(report)
    assert "silent" in errors["silent.wav"] and "broken.wav" in errors["broken.wav"]
    assert report["summary"]["pesq_wb"]["mean"] == pytest.approx(4.64, abs=0.01)  # each file is its own reference
    assert report["summary"]["mcd_db"]["mean"] == 0.0
    assert 1 <= report["summary"]["dnsmos_ovrl"]["mean"] <= 5


def test_asr_uses_sidecar_transcripts(speech_dir, tmp_path):
    assert _entry_point("asr")([str(speech_dir), "--out", str(tmp_path)]) == 0
    report = _report(tmp_path, "asr")
    assert report["scored"] == 2 and set(_errors(report)) == {"silent.wav", "broken.wav"}
    assert report["summary"]["wer"]["mean"] < 0.5
    assert all("hypothesis" in r for r in report["per_file"] if "error" not in r)


def test_similarity_against_one_reference(speech_dir, tmp_path):
    reference = speech_dir / "utt0.wav"
    assert _entry_point("similarity")([str(speech_dir), "--reference", str(reference), "--out", str(tmp_path)]) == 0
    rows = {Path(r["file"]).name: r for r in _report(tmp_path, "similarity")["per_file"]}
    assert rows["utt0.wav"]["speaker_similarity"] == pytest.approx(1.0, abs=1e-5)
    assert 0.8 < rows["utt1.wav"]["speaker_similarity"] < 1.0  # same voice, other sentence
    assert "error" in rows["silent.wav"]


def test_sync_scores_a_directory_of_videos(tmp_path):
    import torch

    from face_fixtures import drawn_face

    from sonicsynth.models.face.procedural_face import FaceStyle
    from sonicsynth.models.syncnet.network import SyncNet
    from sonicsynth.video import write_video

    torch.manual_seed(0)
    weights = tmp_path / "syncnet_v2.model"
    torch.save(SyncNet().state_dict(), weights)
    videos = tmp_path / "videos"
    style = FaceStyle.sample(np.random.default_rng(0))
    frames = [drawn_face(style, 0.5 + 0.5 * np.sin(i / 3)) for i in range(30)]
    speech = (0.2 * np.sin(np.arange(30 * 640) / 5)).astype(np.float32)
    write_video(videos / "talking.mp4", frames, 25, speech, 16000)
    write_video(videos / "mute.mp4", frames, 25)
    out = tmp_path / "report"
    assert _entry_point("sync")([str(videos), "--syncnet", str(weights), "--crop", "face_centred", "--out", str(out)]) == 0
    report = json.loads((out / "sync.json").read_text())
    assert (out / "sync.md").exists() and (out / "distance_vs_offset.png").exists()
    assert report["scored"] == 1 and report["failed"] == 1
    by_name = {Path(r["video"]).name: r for r in report["per_video"]}
    assert by_name["mute.mp4"]["error"].endswith("has no audio track")
    assert by_name["talking.mp4"]["frames_scored"] == 25 and len(by_name["talking.mp4"]["scored"][0]["mean_distance"]) == 31
