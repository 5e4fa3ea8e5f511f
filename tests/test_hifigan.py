"""HiFi-GAN components: sizes from the paper, shapes, and loading the published checkpoint layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from sonicsynth.export.package import ConfigWeightsMismatchError
from sonicsynth.models.vocoder import HiFiGANGenerator, MultiPeriodDiscriminator, MultiScaleDiscriminator
from sonicsynth.models.vocoder.published import load_published_generator, save_published_generator

FIXTURES = Path(__file__).parent / "fixtures"

# The published config.json files (hyper-parameters from the paper's Table/appendix).
PUBLISHED_CONFIGS = {
    "v1": {"resblock": "1", "upsample_rates": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4],
           "upsample_initial_channel": 512, "resblock_kernel_sizes": [3, 7, 11],
           "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]]},
    "v2": {"resblock": "1", "upsample_rates": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4],
           "upsample_initial_channel": 128, "resblock_kernel_sizes": [3, 7, 11],
           "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]]},
    "v3": {"resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
           "upsample_initial_channel": 256, "resblock_kernel_sizes": [3, 5, 7],
           "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]]},
}
AUDIO_CONFIG = {"num_mels": 80, "n_fft": 1024, "hop_size": 256, "win_size": 1024, "sampling_rate": 22050,
                "fmin": 0, "fmax": 8000, "fmax_for_loss": None, "segment_size": 8192}


def generator_kwargs(version: str) -> dict:
    c = PUBLISHED_CONFIGS[version]
    return dict(upsample_rates=c["upsample_rates"], upsample_kernel_sizes=c["upsample_kernel_sizes"],
                upsample_initial_channel=c["upsample_initial_channel"], resblock_type=c["resblock"],
                resblock_kernel_sizes=c["resblock_kernel_sizes"], resblock_dilation_sizes=c["resblock_dilation_sizes"])


@pytest.mark.parametrize("version, millions", [("v1", 13.92), ("v2", 0.92), ("v3", 1.46)])
def test_generator_sizes_match_the_paper(version, millions):
    params = sum(p.numel() for p in HiFiGANGenerator(**generator_kwargs(version)).parameters())
    assert abs(params / 1e6 - millions) < 0.03


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_generator_upsamples_frames_to_samples(version):
    generator = HiFiGANGenerator(**generator_kwargs(version))
    audio = generator(torch.randn(2, 80, 12))
    assert audio.shape == (2, 1, 12 * 256)
    assert audio.abs().max() <= 1.0


def test_discriminators_return_logits_and_feature_maps():
    audio = torch.randn(2, 1, 4096)
    logits, fmaps = MultiPeriodDiscriminator(channels=(4, 8, 16, 32, 32))(audio)
    assert len(logits) == 5 and all(len(f) == 6 for f in fmaps)
    logits, fmaps = MultiScaleDiscriminator(channels=(16, 16, 32, 32, 32, 32, 32))(audio)
    assert len(logits) == 3 and all(len(f) == 8 for f in fmaps)
    # The paper's widths: MPD 41.1M and MSD 29.6M parameters.
    assert abs(sum(p.numel() for p in MultiPeriodDiscriminator().parameters()) / 1e6 - 41.1) < 0.1
    assert abs(sum(p.numel() for p in MultiScaleDiscriminator().parameters()) / 1e6 - 29.6) < 0.1


def test_removing_weight_norm_keeps_the_output():
    generator = HiFiGANGenerator(**generator_kwargs("v3")).eval()
    mel = torch.randn(1, 80, 20)
    with torch.no_grad():
        before = generator(mel)
        after = generator.remove_weight_norm()(mel)
    assert (before - after).abs().max() < 1e-5
    assert not any("parametrizations" in k for k in generator.state_dict())


# ------------------------------------------------------------ published checkpoint layout
def random_published_checkpoint(version: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors with exactly the names and shapes of a published generator checkpoint."""
    shapes = json.loads((FIXTURES / "published_hifigan_shapes.json").read_text())[version]
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in shapes.items():
        scale = 0.02 if name.endswith("weight_v") else 0.1
        state[name] = torch.randn(shape, generator=generator) * scale
        if name.endswith("weight_g"):
            state[name] = state[name].abs() + 0.05
    return state


def reference_forward(state: dict[str, torch.Tensor], config: dict, mel: torch.Tensor) -> torch.Tensor:
    """The published generator's forward pass written out with functional ops on the raw checkpoint.

    Independent of our modules: weight norm is applied by hand (w = g * v / ||v||, norm over all but
    the output dimension), so agreement shows the loader maps every tensor to the right place.
    """

    def weight(prefix):
        v, g = state[f"{prefix}.weight_v"], state[f"{prefix}.weight_g"]
        return g * v / v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))

    def conv(prefix, x, dilation=1, padding=0):
        return F.conv1d(x, weight(prefix), state[f"{prefix}.bias"], dilation=dilation, padding=padding)

    x = conv("conv_pre", mel, padding=3)
    kernels, dilations = config["resblock_kernel_sizes"], config["resblock_dilation_sizes"]
    for i, (rate, kernel) in enumerate(zip(config["upsample_rates"], config["upsample_kernel_sizes"])):
        x = F.leaky_relu(x, 0.1)
        x = F.conv_transpose1d(x, weight(f"ups.{i}"), state[f"ups.{i}.bias"], stride=rate, padding=(kernel - rate) // 2)
        total = 0
        for j, (k, ds) in enumerate(zip(kernels, dilations)):
            prefix, y = f"resblocks.{i * len(kernels) + j}", x
            for n, d in enumerate(ds):
                if config["resblock"] == "1":
                    t = conv(f"{prefix}.convs1.{n}", F.leaky_relu(y, 0.1), d, (k * d - d) // 2)
                    t = conv(f"{prefix}.convs2.{n}", F.leaky_relu(t, 0.1), 1, (k - 1) // 2)
                else:
                    t = conv(f"{prefix}.convs.{n}", F.leaky_relu(y, 0.1), d, (k * d - d) // 2)
                y = y + t
            total = total + y
        x = total / len(kernels)
    x = conv("conv_post", F.leaky_relu(x), padding=3)
    return torch.tanh(x)


def write_published(tmp_path: Path, version: str) -> tuple[Path, Path, dict]:
    state = random_published_checkpoint(version)
    checkpoint, config_path = tmp_path / f"g_{version}", tmp_path / f"config_{version}.json"
    torch.save({"generator": state}, checkpoint)
    config = {**PUBLISHED_CONFIGS[version], **AUDIO_CONFIG}
    config_path.write_text(json.dumps(config))
    return checkpoint, config_path, state


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_published_checkpoint_vocodes_like_the_reference(tmp_path, version):
    checkpoint, config_path, state = write_published(tmp_path, version)
    generator, config = load_published_generator(checkpoint, config_path)
    assert config["mel"] == {"sample_rate": 22050, "n_fft": 1024, "hop_length": 256, "win_length": 1024,
                             "n_mels": 80, "fmin": 0, "fmax": 8000}
    mel = torch.randn(1, 80, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = generator(mel)
        reference = reference_forward(state, PUBLISHED_CONFIGS[version], mel)
    assert ours.shape == reference.shape == (1, 1, 24 * 256)
    assert (ours - reference).abs().max() < 1e-4


def test_published_layout_round_trip(tmp_path):
    checkpoint, config_path, state = write_published(tmp_path, "v3")
    generator, _ = load_published_generator(checkpoint, config_path)
    again = save_published_generator(generator, tmp_path / "again")
    saved = torch.load(again, weights_only=True)["generator"]
    assert saved.keys() == state.keys()
    assert all(torch.equal(saved[k], state[k]) for k in state)


def test_published_checkpoint_of_another_version_is_refused(tmp_path):
    checkpoint, _, _ = write_published(tmp_path, "v1")
    _, v3_config, _ = write_published(tmp_path, "v3")
    with pytest.raises(ConfigWeightsMismatchError, match="g_v1"):
        load_published_generator(checkpoint, v3_config)


def test_published_config_missing_keys_is_refused(tmp_path):
    checkpoint, config_path, _ = write_published(tmp_path, "v3")
    config_path.write_text(json.dumps({"resblock": "2"}))
    with pytest.raises(ValueError, match="lacks"):
        load_published_generator(checkpoint, config_path)
