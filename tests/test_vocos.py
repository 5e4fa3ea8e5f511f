"""The Vocos generator: its inverse STFT inverts the project's spectrogram, shapes, conditioning, and
its use as the SoVITS decoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf

from sonicsynth.models.vocoder import VocosGenerator

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "model" / "sovits_generator"


def small_vocos(**overrides) -> VocosGenerator:
    torch.manual_seed(0)
    settings = dict(in_channels=8, dim=16, intermediate_dim=32, num_layers=2, n_fft=256, hop_length=64, gin_channels=4)
    return VocosGenerator(**(settings | overrides))


def uncentred_stft(wav: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """The complex STFT behind sonicsynth.audio's LinearSpectrogram (its padding, its window)."""
    pad = (n_fft - hop) // 2
    padded = F.pad(wav.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    return torch.stft(padded, n_fft, hop, n_fft, torch.hann_window(n_fft), center=False, return_complex=True)


@pytest.mark.parametrize(("n_fft", "hop"), [(256, 64), (1024, 320)])
def test_inverse_stft_recovers_the_signal_of_the_projects_spectrogram(n_fft, hop):
    wav = torch.randn(2, hop * 30, generator=torch.Generator().manual_seed(0)) * 0.1
    spectrum = uncentred_stft(wav, n_fft, hop)
    assert spectrum.shape[-1] == 30  # N * hop samples <-> N frames, as the decoder's input
    head = small_vocos(n_fft=n_fft, hop_length=hop).head
    assert torch.allclose(head.inverse_stft(spectrum), wav, atol=1e-5)


def test_frames_become_hops_of_audio_conditioned_on_the_timbre_vector():
    generator = small_vocos().eval()
    x = torch.randn(2, 8, 11)
    g1, g2 = torch.randn(2, 4, 1), torch.randn(2, 4, 1)
    audio = generator(x, g=g1)
    assert audio.shape == (2, 1, 11 * 64) and generator.hop_length == 64
    assert audio.abs().max() <= 1.0  # clipped for playback in eval mode
    assert not torch.allclose(audio, generator(x, g=g2))
    with pytest.raises(ValueError, match="needs a conditioning vector g"):
        generator(x)


def test_a_mel_loss_reaches_every_parameter():
    generator = small_vocos().train()
    audio = generator(torch.randn(1, 8, 9), g=torch.randn(1, 4, 1))
    spectrum = uncentred_stft(audio.squeeze(1), 256, 64).abs()
    spectrum.add(1e-5).log().mean().backward()
    missing = [name for name, p in generator.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_names_follow_the_published_vocos_layout():
    names = set(small_vocos(gin_channels=0).state_dict())
    assert {"backbone.embed.weight", "backbone.norm.weight", "backbone.convnext.1.dwconv.weight",
            "backbone.convnext.1.pwconv1.weight", "backbone.convnext.1.pwconv2.bias", "backbone.convnext.1.gamma",
            "backbone.final_layer_norm.weight", "head.out.weight"} <= names
    assert not any(name.startswith("cond") for name in names)


def test_an_fft_size_that_cannot_pad_evenly_is_refused():
    with pytest.raises(ValueError, match="n_fft 255 with hop 64"):
        small_vocos(n_fft=255)


def test_as_the_sovits_decoder_it_trains_and_decodes():
    config = OmegaConf.load(CONFIGS / "tiny.yaml")
    config.decoder = {"_target_": "sonicsynth.models.vocoder.VocosGenerator", "in_channels": config.decoder.in_channels,
                      "dim": 16, "intermediate_dim": 32, "num_layers": 2, "n_fft": 256, "hop_length": 64,
                      "gin_channels": config.decoder.gin_channels}
    torch.manual_seed(0)
    model = instantiate(config).train()
    g = torch.Generator().manual_seed(0)
    out = model(torch.randn(2, 32, 24, generator=g), torch.rand(2, 129, 24, generator=g), torch.tensor([24, 18]),
                torch.randint(1, 732, (2, 7), generator=g), torch.tensor([7, 5]), generator=g)
    assert out.audio.shape == (2, 1, model.segment_frames * 64)
    out.audio.abs().mean().backward()
    assert model.enc_q.proj.weight.grad is not None  # the decoder's loss reaches the posterior encoder

    model.eval()
    tokens = model.extract_tokens(torch.randn(1, 32, 20, generator=g))
    audio = model.decode(tokens, torch.randint(1, 732, (1, 5), generator=g), torch.rand(1, 129, 30, generator=g), seed=0)
    assert audio.shape == (1, 1, tokens.shape[-1] * model.token_upsample * 64)
