"""SoVITS generator: the published v2 layout, loading published checkpoints, and the tiny model's behaviour."""

from __future__ import annotations

import copy
import json
import re
import sys
import types
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from sonicsynth.export.package import CheckpointLoadError, ConfigWeightsMismatchError
from sonicsynth.models.sovits import ResidualVectorQuantizer, SoVITSGenerator, TransformerEncoder
from sonicsynth.models.sovits import quantizer as quantizer_module
from sonicsynth.models.sovits.attention import MultiHeadAttention
from sonicsynth.models.sovits.flow import ResidualCouplingFlow
from sonicsynth.models.sovits.published import (
    PUBLISHED_V2_CONFIG,
    generator_config_from_published,
    load_published_sovits,
    save_published_layout,
)
from sonicsynth.models.sovits.sequence import frame_mask, slice_segments
from sonicsynth.models.vocoder import HiFiGANGenerator
from sonicsynth.nn.weight_norm import to_legacy_weight_norm
from published_fixtures import SMALL_S2_CONFIG

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "model" / "sovits_generator"
# Names and shapes of the published v2 checkpoints, read from the reference implementation.
REFERENCE_SHAPES_FILE = Path(__file__).parent / "fixtures" / "gpt_sovits_v2_state_dict_shapes.json"



def reference_shapes() -> dict[str, list[int]]:
    return json.loads(REFERENCE_SHAPES_FILE.read_text())["s2_generator_v2"]


def random_published_weights(shapes: dict[str, list[int]], dtype: torch.dtype = torch.float32) -> dict:
    """Random tensors with the given names and shapes, valid as weights (positive norms, initialised codebook)."""
    generator = torch.Generator().manual_seed(0)
    weights = {}
    for name, shape in shapes.items():
        tensor = torch.randn(shape, generator=generator) * 0.02
        if name.endswith("weight_g"):
            tensor = tensor.abs() + 0.1
        if name.endswith("_codebook.inited"):
            tensor = torch.ones(shape)
        weights[name] = tensor.to(dtype)
    return weights


def small_s2_weights() -> dict[str, torch.Tensor]:
    model = instantiate(generator_config_from_published(SMALL_S2_CONFIG), _convert_="all")
    return random_published_weights({k: list(v.shape) for k, v in to_legacy_weight_norm(model.state_dict()).items()})


def write_checkpoint(path: Path, weight: dict, config) -> Path:
    torch.save({"weight": weight, "config": config, "info": "1epoch_1iteration"}, path)
    return path


def tiny_model(seed: int = 0, **overrides) -> SoVITSGenerator:
    torch.manual_seed(seed)
    config = OmegaConf.load(CONFIGS / "tiny.yaml")
    return instantiate(config, **overrides)


def tiny_batch(generator_seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(generator_seed)
    return {
        "ssl_features": torch.randn(2, 32, 24, generator=g),
        "spec": torch.rand(2, 129, 24, generator=g),
        "spec_lengths": torch.tensor([24, 18]),
        "phone_ids": torch.randint(1, 732, (2, 7), generator=g),
        "phone_lengths": torch.tensor([7, 5]),
    }


@pytest.fixture(scope="module")
def published_model() -> SoVITSGenerator:
    return instantiate(OmegaConf.load(CONFIGS / "v2.yaml"))


# ------------------------------------------------------------------------------------------ published layout


def test_v2_module_has_exactly_the_published_names_and_shapes(published_model):
    expected = reference_shapes()
    ours = {name: list(t.shape) for name, t in to_legacy_weight_norm(published_model.state_dict()).items()}
    assert len(expected) == 776
    assert sorted(set(expected) - set(ours)) == []
    assert sorted(set(ours) - set(expected)) == []
    assert {name: shape for name, shape in ours.items() if expected[name] != shape} == {}


def test_v2_yaml_is_what_the_converter_builds_from_s2_json():
    yaml_config = OmegaConf.to_container(OmegaConf.load(CONFIGS / "v2.yaml"))
    assert yaml_config == generator_config_from_published(PUBLISHED_V2_CONFIG)


def test_published_checkpoint_loads_and_decodes(tmp_path):
    shapes = reference_shapes()
    # Float16, as the tools export fine-tuned weights.
    weights = random_published_weights(shapes, torch.float16)
    path = write_checkpoint(tmp_path / "voice_e8_s96.pth", weights, copy.deepcopy(PUBLISHED_V2_CONFIG))

    model, info = load_published_sovits(path)
    assert not model.training and info["posterior_encoder_loaded"]
    assert info["spectrogram"] == {"sample_rate": 32000, "n_fft": 2048, "hop_length": 640, "win_length": 2048,
                                   "center": False}
    loaded = to_legacy_weight_norm(model.state_dict())
    assert set(loaded) == set(shapes)
    assert torch.equal(loaded["enc_p.text_embedding.weight"], weights["enc_p.text_embedding.weight"].float())
    assert torch.equal(loaded["dec.ups.4.weight_v"], weights["dec.ups.4.weight_v"].float())

    tokens = torch.randint(0, 1024, (1, 1, 5))
    audio = model.decode(tokens, torch.randint(1, 732, (1, 4)), torch.rand(1, 1025, 12), seed=0)
    assert audio.shape == (1, 1, 5 * 2 * 640)
    assert torch.isfinite(audio).all()


def test_export_without_posterior_encoder_and_with_the_reference_config_object_loads(tmp_path, monkeypatch):
    # The tools' fine-tuned exports drop enc_q and pickle the config as their own `utils.HParams`.
    hparams_module = types.ModuleType("utils")

    class HParams:
        def __init__(self, **entries):
            for key, value in entries.items():
                setattr(self, key, HParams(**value) if isinstance(value, dict) else value)

    HParams.__module__, HParams.__qualname__ = "utils", "HParams"
    hparams_module.HParams = HParams
    monkeypatch.setitem(sys.modules, "utils", hparams_module)

    weights = {k: v.half() for k, v in small_s2_weights().items() if not k.startswith("enc_q.")}
    path = write_checkpoint(tmp_path / "export.pth", weights, HParams(**SMALL_S2_CONFIG))
    model, info = load_published_sovits(path)  # safe loading: nothing from the file is executed
    assert info["posterior_encoder_loaded"] is False
    assert info["published_config"]["model"]["hidden_channels"] == 16
    assert torch.equal(model.ssl_proj.weight, weights["ssl_proj.weight"].float())


def test_written_layout_reads_back_identically(tmp_path):
    model = instantiate(generator_config_from_published(SMALL_S2_CONFIG), _convert_="all")
    state = model.state_dict()
    model.load_state_dict({k: torch.randn_like(v) if k.endswith("original1") else v for k, v in state.items()})
    path = save_published_layout(model, SMALL_S2_CONFIG, tmp_path / "out" / "small.pth")
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"weight", "config", "info"} and raw["config"] == SMALL_S2_CONFIG
    assert any(k.endswith("weight_g") for k in raw["weight"])

    loaded, _ = load_published_sovits(path)
    original = model.eval().state_dict()
    assert all(torch.equal(original[k], v) for k, v in loaded.state_dict().items())
    args = (torch.randint(0, 1024, (1, 1, 4)), torch.randint(1, 732, (1, 3)), torch.rand(1, 1025, 9))
    assert torch.equal(model.decode(*args, seed=1), loaded.decode(*args, seed=1))

    with pytest.raises(ConfigWeightsMismatchError, match="does not fit the s2 config"):
        save_published_layout(model, PUBLISHED_V2_CONFIG, tmp_path / "wrong.pth")
    assert not (tmp_path / "wrong.pth").exists()


@pytest.mark.parametrize("damage", ["missing", "shape", "unexpected"])
def test_mismatched_weights_are_refused_naming_the_file(tmp_path, damage):
    weights = small_s2_weights()
    if damage == "missing":
        del weights["dec.conv_pre.weight"]
    elif damage == "shape":
        weights["enc_p.text_embedding.weight"] = torch.zeros(322, 16)
    else:
        weights["dec.conv_post.bias"] = torch.zeros(1)
    path = write_checkpoint(tmp_path / f"{damage}.pth", weights, SMALL_S2_CONFIG)
    with pytest.raises(ConfigWeightsMismatchError, match=re.escape(str(path))) as error:
        load_published_sovits(path)
    named = {"missing": "dec.conv_pre.weight", "shape": "text_embedding", "unexpected": "dec.conv_post.bias"}
    assert named[damage] in str(error.value)


class NotAConfig:
    """A pickled object that safe loading must refuse."""


def test_other_layouts_are_refused_naming_the_file(tmp_path):
    weights = small_s2_weights()
    cases = {
        "bare_state_dict.pth": weights,  # no {'weight', 'config'} wrapper
        "hifigan.pth": {"generator": weights},
    }
    for name, content in cases.items():
        torch.save(content, tmp_path / name)
        with pytest.raises(ValueError, match=re.escape(str(tmp_path / name))):
            load_published_sovits(tmp_path / name)

    no_config = write_checkpoint(tmp_path / "no_config.pth", weights, None)
    with pytest.raises(ValueError, match=re.escape(str(no_config)) + ".*pass config="):
        load_published_sovits(no_config)
    assert load_published_sovits(no_config, config=SMALL_S2_CONFIG)[1]["posterior_encoder_loaded"]

    v1_config = {**SMALL_S2_CONFIG, "model": {**SMALL_S2_CONFIG["model"], "version": "v1"}}
    v1 = write_checkpoint(tmp_path / "v1.pth", weights, v1_config)
    with pytest.raises(ValueError, match=re.escape(str(v1)) + ".*'v1'"):
        load_published_sovits(v1)

    pro = tmp_path / "v2pro.pth"
    pro.write_bytes(b"05" + (tmp_path / "hifigan.pth").read_bytes()[2:])
    with pytest.raises(ValueError, match=re.escape(str(pro)) + ".*v2Pro"):
        load_published_sovits(pro)

    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointLoadError, match=re.escape(str(text))):
        load_published_sovits(text)

    unsafe = write_checkpoint(tmp_path / "unsafe.pth", weights, NotAConfig())
    with pytest.raises(CheckpointLoadError, match=re.escape(str(unsafe)) + ".*trust=True"):
        load_published_sovits(unsafe)
    with pytest.raises(ValueError, match="holds no s2 config"):  # trusted: unpickled, but still no config
        load_published_sovits(unsafe, trust=True)


# ------------------------------------------------------------------------------------------ decoder options


def test_sovits_decoder_options_and_equal_kernel_and_rate():
    decoder = HiFiGANGenerator(in_channels=8, upsample_rates=[2, 2], upsample_kernel_sizes=[2, 2],
                               upsample_initial_channel=16, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]],
                               gin_channels=4, weight_norm_pre_post=False, post_bias=False)
    assert set(decoder.conv_pre.state_dict()) == {"weight", "bias"}
    assert set(decoder.conv_post.state_dict()) == {"weight"}
    assert decoder.ups[0].padding == (0,)
    assert decoder(torch.randn(1, 8, 7), g=torch.randn(1, 4, 1)).shape == (1, 1, 28)
    with pytest.raises(ValueError, match="kernel 5 with rate 2"):
        HiFiGANGenerator(upsample_rates=[2], upsample_kernel_sizes=[5])


# ------------------------------------------------------------------------------------------ tiny model


def test_training_forward_shapes_and_gradients():
    model = tiny_model().train()
    batch = tiny_batch()
    out = model(**batch, generator=torch.Generator().manual_seed(0))
    assert out.audio.shape == (2, 1, model.segment_frames * model.hop_length) == (2, 1, 8 * 64)
    for name in ("z", "z_p", "m_p", "logs_p", "m_q", "logs_q"):
        assert getattr(out, name).shape == (2, 8, 24), name
    assert out.quantized.shape == (2, 32, 24) and out.codes.shape == (2, 1, 12) and out.ge.shape == (2, 16, 1)
    assert out.spec_mask[1, 0, 18:].sum() == 0 and out.spec_mask[1, 0, :18].all()
    assert (out.ids_slice >= 0).all() and (out.ids_slice + 8 <= batch["spec_lengths"]).all()
    assert torch.isfinite(out.commitment_loss) and out.commitment_loss > 0
    expected_audio = model.dec(slice_segments(out.z, out.ids_slice, 8), g=out.ge)
    assert torch.allclose(out.audio, expected_audio, atol=1e-6)  # the audio is the decoded slice of z

    loss = out.audio.abs().mean() + out.commitment_loss + (out.z_p - out.m_p).pow(2).mean()
    loss.backward()
    assert model.ssl_proj.weight.grad is not None  # straight-through + commitment reach the content side
    assert model.ref_enc.fc.fc.weight.grad is not None


def test_frozen_quantizer_gets_no_updates_and_no_gradient():
    model = tiny_model(freeze_quantizer=True).train()
    model.quantizer.vq.layers[0]._codebook.inited.fill_(1.0)
    before = copy.deepcopy(model.quantizer.state_dict())
    out = model(**tiny_batch())
    assert out.commitment_loss == 0 and not out.quantized.requires_grad
    assert all(torch.equal(before[k], v) for k, v in model.quantizer.state_dict().items())


def test_kmeans_initialises_once_then_ema_updates_only_in_training(monkeypatch):
    calls = []
    original = quantizer_module.kmeans
    monkeypatch.setattr(quantizer_module, "kmeans", lambda *a, **k: calls.append(1) or original(*a, **k))
    quantizer = ResidualVectorQuantizer(dim=8, codebook_size=16, kmeans_iters=5).train()
    codebook = quantizer.vq.layers[0]._codebook
    assert codebook.inited.item() == 0
    x = torch.randn(2, 8, 40)

    quantizer(x)
    assert calls == [1] and codebook.inited.item() == 1
    after_init = codebook.embed.clone()
    quantizer(x + 0.5)
    quantizer(x - 0.5)
    assert calls == [1]  # k-means ran once, on the first training batch
    assert not torch.equal(codebook.embed, after_init)  # EMA moved the codes

    quantizer.eval()
    frozen = {k: v.clone() for k, v in quantizer.state_dict().items()}
    out = quantizer(x * 3)
    assert all(torch.equal(frozen[k], v) for k, v in quantizer.state_dict().items())
    assert out.commitment_loss == 0
    assert torch.equal(out.quantized, quantizer.decode(out.codes))


def test_straight_through_and_dead_code_reseeding():
    quantizer = ResidualVectorQuantizer(dim=4, codebook_size=8, kmeans_iters=2, dead_code_threshold=1e9).train()
    x = torch.randn(1, 4, 30, requires_grad=True)
    out = quantizer(x)
    (out.quantized.sum() + out.commitment_loss).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # Every code counts as dead under this threshold, so each was re-seeded with a vector of the batch.
    samples = x.detach()[0].t()
    embed = quantizer.vq.layers[0]._codebook.embed
    assert all(any(torch.equal(code, row) for row in samples) for code in embed)


def test_extract_tokens_gives_codebook_indices():
    model = tiny_model().train()
    model(**tiny_batch())  # initialises the codebook
    features = torch.randn(3, 32, 21)
    tokens = model.eval().extract_tokens(features)
    assert tokens.shape == (3, 1, 10) and tokens.dtype == torch.int64
    assert tokens.min() >= 0 and tokens.max() < model.codebook_size
    assert torch.equal(tokens, model.quantizer(model.ssl_proj(features)).codes)
    assert len(tokens.unique()) > 1


def test_decode_is_seeded():
    model = tiny_model().eval()
    tokens = torch.randint(0, 64, (1, 1, 6))
    phones = torch.randint(1, 732, (1, 5))
    reference = torch.rand(1, 129, 15)
    audio = model.decode(tokens, phones, reference, seed=0)
    assert audio.shape == (1, 1, 6 * 2 * 64)
    assert torch.equal(audio, model.decode(tokens, phones, reference, seed=0))
    assert not torch.equal(audio, model.decode(tokens, phones, reference, seed=1))
    assert torch.equal(audio, model.decode(tokens, phones, reference, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(audio, model.decode(tokens[:, 0], phones, reference, seed=0))  # (batch, tokens) too
    assert torch.equal(model.decode(tokens, phones, reference, noise_scale=0.0, seed=0),
                       model.decode(tokens, phones, reference, noise_scale=0.0, seed=1))
    several = model.decode(tokens, phones, [reference, torch.rand(1, 129, 9)], seed=0)
    assert several.shape == audio.shape and not torch.equal(several, audio)


def test_flow_forward_then_reverse_recovers_the_input():
    torch.manual_seed(0)
    flow = ResidualCouplingFlow(channels=8, hidden_channels=16, kernel_size=5, n_layers=2, n_flows=3, gin_channels=4)
    for coupling in flow.flows[::2]:  # the output layers start at zero (identity flow): make them act
        torch.nn.init.normal_(coupling.post.weight, std=0.5)
        torch.nn.init.normal_(coupling.post.bias, std=0.5)
    mask = frame_mask(torch.tensor([20, 13]), 20, torch.float32)
    x = torch.randn(2, 8, 20) * mask
    g = torch.randn(2, 4, 1)
    z_p = flow(x, mask, g=g)
    assert not torch.allclose(z_p, x, atol=1e-2)
    assert torch.allclose(flow(z_p, mask, g=g, reverse=True), x, atol=1e-4)


def test_relative_attention_matches_its_definition():
    torch.manual_seed(0)
    attention = MultiHeadAttention(channels=8, out_channels=8, n_heads=2, window_size=2).eval()
    x = torch.randn(1, 8, 7)
    got = attention(x, x)
    q, k, v = (conv(x)[0].view(2, 4, 7) for conv in (attention.conv_q, attention.conv_k, attention.conv_v))
    e_k, e_v = attention.emb_rel_k[0], attention.emb_rel_v[0]
    heads = []
    for h in range(2):
        scores = torch.zeros(7, 7)
        for i in range(7):
            for j in range(7):
                scores[i, j] = q[h, :, i] @ k[h, :, j]
                if abs(j - i) <= 2:
                    scores[i, j] += q[h, :, i] @ e_k[j - i + 2]
        weights = torch.softmax(scores / 2.0, dim=-1)  # sqrt(head channels 4) = 2
        out = torch.zeros(4, 7)
        for i in range(7):
            for j in range(7):
                out[:, i] += weights[i, j] * (v[h, :, j] + (e_v[j - i + 2] if abs(j - i) <= 2 else 0))
        heads.append(out)
    expected = attention.conv_o(torch.cat(heads).unsqueeze(0))
    assert torch.allclose(got, expected, atol=1e-5)


def test_relative_attention_encoder_ignores_padding():
    torch.manual_seed(0)
    encoder = TransformerEncoder(16, 32, n_heads=2, n_layers=2, kernel_size=3, dropout=0.1, window_size=4).eval()
    x = torch.randn(1, 16, 12)
    mask = frame_mask(torch.tensor([8]), 12, torch.float32)
    out = encoder(x, mask)
    noisy = x.clone()
    noisy[..., 8:] = torch.randn(1, 16, 4) * 100
    assert torch.allclose(encoder(noisy, mask)[..., :8], out[..., :8], atol=1e-5)
    assert out[..., 8:].abs().max() == 0
    alone = encoder(x[..., :8], torch.ones(1, 1, 8))
    assert torch.allclose(alone, out[..., :8], atol=1e-5)
