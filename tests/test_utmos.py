"""UTMOS22 strong learner: checkpoint layout, loading and scoring (no published weights needed).

`fixtures/utmos22_strong_keys.json` lists the state_dict keys and shapes of the reference
re-implementation, tarepan/SpeechMOS v1.2.0 (speechmos/utmos22/strong/model.py: `wav2vec2`,
`domain_emb`, `judge_emb`, `blstm`, `projection`; speechmos/utmos22/fairseq_alt.py: the wav2vec 2.0
feature extractor and encoder in fairseq naming, including the weight-normed `pos_conv.0.weight_g/_v`
and the unused `mask_emb`). It was produced once from `UTMOS22Strong().state_dict()` of that source,
outside this repository; the published `utmos22_strong_step7459_v1.pt` has this layout (its hubconf
loads it with `load_state_dict` straight into that model).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sonicsynth.metrics.base import MetricError
from sonicsynth.metrics.utmos import (
    SAMPLE_RATE,
    UTMOS22Config,
    UTMOS22Strong,
    load_utmos22,
)

FIXTURES = Path(__file__).parent / "fixtures"

TINY = UTMOS22Config(
    conv_channels=16, ssl_dim=24, encoder_layers=2, attention_heads=4, ffn_dim=32, pos_conv_kernel=16,
    pos_conv_groups=4, domain_dim=8, judge_dim=8, rnn_hidden=12, projection_hidden=20,
)


def _speechlike(seconds: float, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 560), start=1))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    return (0.2 * tone * envelope + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[UTMOS22Strong, Path]:
    torch.manual_seed(0)
    model = UTMOS22Strong(TINY).eval()
    path = tmp_path_factory.mktemp("utmos") / "tiny_utmos22.pt"
    torch.save(model.state_dict(), path)
    return model, path


def test_default_layout_matches_speechmos_checkpoint() -> None:
    reference = json.loads((FIXTURES / "utmos22_strong_keys.json").read_text())["shapes"]
    with torch.device("meta"):  # layout only: no 400 MB of weights allocated
        model = UTMOS22Strong()
    ours = {key: list(value.shape) for key, value in model.state_dict().items()}
    assert sorted(ours) == sorted(reference)
    assert ours == reference
    assert sum(math.prod(shape) for shape in ours.values()) == 102_772_865


def test_loaded_tiny_model_scores_like_the_original(tiny_checkpoint: tuple[UTMOS22Strong, Path]) -> None:
    original, path = tiny_checkpoint
    loaded = load_utmos22(path, TINY)
    assert not loaded.training
    audio = _speechlike(1.3)  # 1.3 s: an odd number of 20 ms frames (64)
    score = loaded.score(audio, SAMPLE_RATE)
    assert math.isfinite(score)
    assert score == original.score(audio, SAMPLE_RATE)
    # Another rate is resampled to 16 kHz first, exactly as scoring the resampled clip.
    from sonicsynth.audio.io import resample

    audio_22k = _speechlike(1.0, 22050, seed=1)
    assert loaded.score(audio_22k, 22050) == loaded.score(np.asarray(resample(audio_22k, 22050, SAMPLE_RATE)),
                                                          SAMPLE_RATE)


def test_batch_forward_shape(tiny_checkpoint: tuple[UTMOS22Strong, Path]) -> None:
    model, _ = tiny_checkpoint
    with torch.inference_mode():
        scores = model(torch.from_numpy(np.stack([_speechlike(0.6, seed=s) for s in range(3)])))
    assert scores.shape == (3,)
    assert torch.isfinite(scores).all()


def test_missing_key_names_file_and_key(tiny_checkpoint: tuple[UTMOS22Strong, Path], tmp_path: Path) -> None:
    _, path = tiny_checkpoint
    state = torch.load(path, map_location="cpu", weights_only=True)
    del state["wav2vec2.encoder.pos_conv.0.weight_g"]
    broken = tmp_path / "broken.pt"
    torch.save(state, broken)
    with pytest.raises(MetricError, match=r"broken\.pt.*missing wav2vec2\.encoder\.pos_conv\.0\.weight_g"):
        load_utmos22(broken, TINY)


def test_shape_mismatch_and_missing_file(tiny_checkpoint: tuple[UTMOS22Strong, Path], tmp_path: Path) -> None:
    _, path = tiny_checkpoint
    wider = dataclasses.replace(TINY, domain_dim=16)
    with pytest.raises(MetricError, match=r"tiny_utmos22\.pt.*domain_emb has shape \(1, 8\), expected \(1, 16\)"):
        load_utmos22(path, wider)
    missing = tmp_path / "utmos22_strong_step7459_v1.pt"
    with pytest.raises(MetricError, match=r"utmos22_strong_step7459_v1\.pt.*not found"):
        load_utmos22(missing)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(MetricError, match=r"garbage\.pt: cannot read UTMOS22 weights"):
        load_utmos22(garbage)


def test_bad_input_is_refused(tiny_checkpoint: tuple[UTMOS22Strong, Path]) -> None:
    model, _ = tiny_checkpoint
    with pytest.raises(MetricError, match="clip.wav.*silent"):
        model.score(np.zeros(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE, name="clip.wav")
    with pytest.raises(MetricError, match="clip.wav.*at least 0.5 s"):
        model.score(_speechlike(0.2), SAMPLE_RATE, name="clip.wav")
    with pytest.raises(MetricError, match="clip.wav.*8000 Hz"):
        model.score(_speechlike(1.0, 8000), 8000, name="clip.wav")
