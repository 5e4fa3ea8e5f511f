"""Talking-face corpus adapters: each published layout, in miniature, -> a manifest with video paths.

The clips are short mp4s written with `sonicsynth.video.write_video` (a plain moving gradient, with
a tone as audio); what matters here is the layout, the ids, speakers, texts and the extracted audio.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonicsynth.data.adapters import problems_path
from sonicsynth.data.av_adapters import make_av_manifest
from sonicsynth.data.manifest import read_manifest
from sonicsynth.video import write_video

FRAMES = 5  # 0.2 s at 25 fps


def clip(path: Path, audio: bool = True, sample_rate: int = 44100) -> Path:
    """A 0.2 s 64 x 48 mp4; with audio at a rate other than 16 kHz, to check the resampling."""
    ramp = np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None]
    frames = [np.broadcast_to(np.roll(ramp, 8 * k, axis=1), (48, 64, 3)).copy() for k in range(FRAMES)]
    samples = 0.2 * np.sin(2 * np.pi * 220 * np.arange(FRAMES * sample_rate // 25) / sample_rate) if audio else None
    return write_video(path, frames, 25, samples, sample_rate if audio else None)


def check_audio(out: Path, utterance) -> None:
    info = sf.info(str(utterance.audio_file(out)))
    assert info.samplerate == 16000 and info.channels == 1
    assert utterance.duration == pytest.approx(info.frames / 16000)
    assert utterance.duration == pytest.approx(FRAMES / 25, abs=0.05)  # AAC pads a little


def test_hdtf_flat_folder(tmp_path):
    root = tmp_path / "HDTF"
    for name in ("WDA_BarackObama_000", "WDA_BarackObama_001", "RD_Radio1_000"):
        clip(root / f"{name}.mp4")
    utterances, problems = make_av_manifest("hdtf", root, tmp_path / "out", val_every=None, progress=False)
    assert problems == []
    by_id = {u.id: u for u in utterances}
    assert sorted(by_id) == ["RD_Radio1_000", "WDA_BarackObama_000", "WDA_BarackObama_001"]
    assert by_id["WDA_BarackObama_001"].speaker == "WDA_BarackObama"
    assert by_id["RD_Radio1_000"].speaker == "RD_Radio1"
    out = tmp_path / "out"
    for utterance in utterances:
        assert utterance.text == "" and utterance.source == "hdtf" and utterance.language == "en"
        assert utterance.video_file(out).resolve() == (root / f"{utterance.id}.mp4").resolve()
        check_audio(out, utterance)
    assert [u.id for u in read_manifest(out / "manifest.jsonl")] == sorted(by_id)


def test_voxceleb2_identity_video_clip(tmp_path):
    root = tmp_path / "vox" / "dev" / "mp4"
    clip(root / "id00012" / "21Uxsk56VDQ" / "00001.mp4")
    clip(root / "id00012" / "21Uxsk56VDQ" / "00002.mp4")
    clip(root / "id00015" / "0fijmz4vTVU" / "00001.mp4")
    clip(root / "id00015" / "stray.mp4")  # one level short: reported
    utterances, problems = make_av_manifest("voxceleb2", root, tmp_path / "out", val_every=None, progress=False)
    assert {u.id: u.speaker for u in utterances} == {
        "id00012_21Uxsk56VDQ_00001": "id00012", "id00012_21Uxsk56VDQ_00002": "id00012",
        "id00015_0fijmz4vTVU_00001": "id00015",
    }
    assert all(u.language == "und" and u.extras["youtube_id"] in ("21Uxsk56VDQ", "0fijmz4vTVU") for u in utterances)
    assert [p.path.name for p in problems] == ["stray.mp4"] and "layout" in problems[0].reason
    check_audio(tmp_path / "out", utterances[0])


def test_lrs2_transcripts(tmp_path):
    root = tmp_path / "mvlrs_v1" / "main"
    programme = root / "5535415699068794046"
    clip(programme / "00001.mp4")
    (programme / "00001.txt").write_text("Text:  WHEN YOU LOOK AT THE RECORDS\nConf:  4\n")
    clip(programme / "00002.mp4")
    (programme / "00002.txt").write_text("Conf:  4\n")  # no Text: line
    clip(programme / "00003.mp4")  # no transcript at all
    utterances, problems = make_av_manifest("lrs2", root, tmp_path / "out", val_every=None, progress=False)
    assert [(u.id, u.speaker, u.text) for u in utterances] == [
        ("5535415699068794046_00001", "5535415699068794046", "WHEN YOU LOOK AT THE RECORDS")]
    reasons = {p.path.name: p.reason for p in problems}
    assert "Text:" in reasons["00002.txt"] and "transcript missing" in reasons["00003.mp4"]


def test_videos_without_audio_and_corrupt_files_are_listed_with_their_reason(tmp_path):
    root = tmp_path / "HDTF"
    clip(root / "good_000.mp4")
    clip(root / "silent_film_000.mp4", audio=False)
    (root / "broken_000.mp4").write_bytes(b"not a video" * 100)
    out = tmp_path / "out"
    utterances, problems = make_av_manifest("hdtf", root, out, val_every=None, progress=False)
    assert [u.id for u in utterances] == ["good_000"]
    listed = json.loads(problems_path(out / "manifest.jsonl").read_text())
    reasons = {Path(p["path"]).name: p["reason"] for p in listed}
    assert reasons["silent_film_000.mp4"] == "has no audio track"
    assert "not a readable video" in reasons["broken_000.mp4"]
    assert not (out / "wavs" / "silent_film").exists() and not (out / "wavs" / "broken").exists()
    assert not list(out.rglob(".*tmp*"))  # nothing half-written


def test_unknown_layout_and_missing_root_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown video corpus layout 'lrs3'"):
        make_av_manifest("lrs3", tmp_path, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_av_manifest("hdtf", tmp_path / "nowhere", tmp_path / "out")
