"""Semantic GPT (GPT-SoVITS s1): the published layout, loading published checkpoints, the prefix-LM
mask, cached vs recomputed decoding, sampling, and a tiny model that learns."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import re
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from sonicsynth.export.package import CheckpointLoadError, ConfigWeightsMismatchError
from sonicsynth.models.gpt import SamplingSettings, SemanticGPT, decode, prefix_lm_mask
from sonicsynth.models.gpt.decoding import choose_tokens
from sonicsynth.models.gpt.dpo import make_rejected_tokens
from sonicsynth.models.gpt.published import (
    PUBLISHED_V2_CONFIG,
    load_published_gpt,
    network_config_from_published,
    save_published_layout,
)
from sonicsynth.text.symbols import SYMBOLS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "model" / "gpt_net"
REFERENCE_SHAPES_FILE = Path(__file__).parent / "fixtures" / "gpt_sovits_v2_state_dict_shapes.json"
EOS = 1024

# The published structure (24 layers, 732 phones, 1025 tokens: every published name) at 32-d.
SMALL_S1_CONFIG = copy.deepcopy(PUBLISHED_V2_CONFIG)
SMALL_S1_CONFIG["model"].update(embedding_dim=32, hidden_dim=32, head=4, linear_units=128)


def reference_shapes() -> dict[str, list[int]]:
    return json.loads(REFERENCE_SHAPES_FILE.read_text())["s1_gpt_v2"]


def tiny_model(seed: int = 0) -> SemanticGPT:
    torch.manual_seed(seed)
    return instantiate(OmegaConf.load(CONFIGS / "tiny.yaml")).eval()


def small_published_weights(dtype: torch.dtype = torch.float16) -> OrderedDict:
    """Random weights in the file layout of SMALL_S1_CONFIG: 'model.' names, float16 like the tools' exports."""
    with torch.device("meta"):
        shapes = instantiate(network_config_from_published(SMALL_S1_CONFIG)).state_dict()
    generator = torch.Generator().manual_seed(0)
    weights = OrderedDict()
    for name, tensor in shapes.items():
        value = torch.randn(tensor.shape, generator=generator) * 0.1
        if name.endswith(("norm1.weight", "norm2.weight", "position.alpha")):
            value = value.abs() + 1.0
        weights["model." + name] = value.to(dtype)
    return weights


def write_checkpoint(path: Path, weight, config) -> Path:
    torch.save({"weight": weight, "config": config, "info": "GPT-e15"}, path)
    return path


def prompt_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """Three items of different phone and prompt lengths, right-padded."""
    g = torch.Generator().manual_seed(seed)
    return {
        "phone_ids": torch.randint(1, len(SYMBOLS), (3, 9), generator=g),
        "phone_lengths": torch.tensor([9, 4, 6]),
        "prompt_tokens": torch.randint(0, 1024, (3, 6), generator=g),
        "prompt_lengths": torch.tensor([6, 2, 4]),
    }


class ForcedEOS:
    """Forward hook on ar_predict_layer that adds `shift` to the end-of-speech logit."""

    def __init__(self, model: SemanticGPT, shift: float) -> None:
        self.handle = model.ar_predict_layer.register_forward_hook(self)
        self.shift = shift

    def __call__(self, module, inputs, output):
        output = output.clone()
        output[..., EOS] += self.shift
        return output

    def remove(self) -> None:
        self.handle.remove()


# ------------------------------------------------------------------------------------------ published layout


def test_v2_network_has_exactly_the_published_names_and_shapes():
    with torch.device("meta"):  # 77M parameters, nothing allocated
        model = instantiate(OmegaConf.load(CONFIGS / "v2.yaml"))
    expected = reference_shapes()
    ours = {"model." + name: list(t.shape) for name, t in model.state_dict().items()}
    assert len(expected) == 295
    assert sorted(set(expected) - set(ours)) == []
    assert sorted(set(ours) - set(expected)) == []
    assert {name: shape for name, shape in ours.items() if expected[name] != shape} == {}


def test_v2_yaml_is_what_the_converter_builds_from_the_published_config():
    yaml_config = OmegaConf.to_container(OmegaConf.load(CONFIGS / "v2.yaml"))
    assert yaml_config == network_config_from_published(PUBLISHED_V2_CONFIG)


def test_published_checkpoint_loads_and_decodes(tmp_path):
    weights = small_published_weights()
    assert set(weights) == set(reference_shapes())  # every published name, narrower
    path = write_checkpoint(tmp_path / "voice-e15.ckpt", weights, copy.deepcopy(SMALL_S1_CONFIG))
    assert set(torch.load(path, weights_only=True)) == {"weight", "config", "info"}  # plain, safe to load

    model, info = load_published_gpt(path)
    assert not model.training and info["published_config"]["model"]["hidden_dim"] == 32
    assert model.phone_vocab_size == 732 and model.eos_id == EOS and len(model.h.layers) == 24
    loaded = model.state_dict()
    assert torch.equal(loaded["h.layers.23.linear2.weight"], weights["model.h.layers.23.linear2.weight"].float())
    assert torch.equal(loaded["ar_audio_position.alpha"], weights["model.ar_audio_position.alpha"].float())

    batch = {**prompt_batch(), "phone_ids": torch.randint(1, 732, (3, 9))}
    result = decode(model, **batch, settings=SamplingSettings(max_new_tokens=5), seed=0)
    assert result.tokens.shape[0] == 3 and bool((result.lengths <= 5).all())
    assert bool((result.tokens < EOS).logical_or(result.tokens == EOS).all())


def test_written_layout_reads_back_identically(tmp_path):
    model = tiny_model()
    path = save_published_layout(model, tmp_path / "out" / "tiny.ckpt")
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"weight", "config", "info"}
    assert all(name.startswith("model.") for name in raw["weight"])
    assert raw["config"]["model"]["phoneme_vocab_size"] == len(SYMBOLS)
    assert raw["config"]["model"]["hidden_dim"] == 32 and raw["config"]["inference"] == {"top_k": 15}

    loaded, _ = load_published_gpt(path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in loaded.state_dict().items())
    batch = prompt_batch()
    settings = SamplingSettings(max_new_tokens=6)
    assert torch.equal(decode(model, **batch, settings=settings, seed=3).tokens,
                       decode(loaded, **batch, settings=settings, seed=3).tokens)

    half = save_published_layout(model, tmp_path / "half.ckpt", half=True)
    assert torch.load(half, weights_only=True)["weight"]["model.bert_proj.weight"].dtype == torch.float16
    assert load_published_gpt(half)[0].bert_proj.weight.dtype == torch.float32

    with pytest.raises(ConfigWeightsMismatchError, match="does not fit the s1 config"):
        save_published_layout(model, tmp_path / "wrong.ckpt", config=PUBLISHED_V2_CONFIG)
    assert not (tmp_path / "wrong.ckpt").exists()


@pytest.mark.parametrize("damage", ["missing", "shape", "unexpected"])
def test_mismatched_weights_are_refused_naming_the_file(tmp_path, damage):
    weights = small_published_weights()
    if damage == "missing":
        del weights["model.h.layers.3.norm2.bias"]
    elif damage == "shape":
        weights["model.ar_text_embedding.word_embeddings.weight"] = torch.zeros(512, 32)
    else:
        weights["model.speaker_proj.weight"] = torch.zeros(32, 4096)
    path = write_checkpoint(tmp_path / f"{damage}.ckpt", weights, SMALL_S1_CONFIG)
    with pytest.raises(ConfigWeightsMismatchError, match=re.escape(str(path))) as error:
        load_published_gpt(path)
    named = {"missing": "h.layers.3.norm2.bias", "shape": "ar_text_embedding", "unexpected": "speaker_proj.weight"}
    assert named[damage] in str(error.value)


class NotAConfig:
    """A pickled object that safe loading must refuse."""


def test_other_layouts_are_refused_naming_the_file(tmp_path):
    weights = small_published_weights()
    bare = {k[len("model."):]: v for k, v in weights.items()}
    cases = {
        "bare_state_dict.ckpt": (weights, "expected a dict with a 'weight'"),
        "lightning.ckpt": ({"state_dict": weights, "epoch": 3}, "Lightning training checkpoint"),
        "sovits.pth": ({"weight": {"enc_p.text_embedding.weight": torch.zeros(2, 2)}, "config": {}}, "'enc_p."),
        "unprefixed.ckpt": ({"weight": bare, "config": SMALL_S1_CONFIG}, "must all start with 'model.'"),
    }
    for name, (content, message) in cases.items():
        torch.save(content, tmp_path / name)
        with pytest.raises(ValueError, match=re.escape(str(tmp_path / name)) + ".*" + re.escape(message)):
            load_published_gpt(tmp_path / name)

    no_config = write_checkpoint(tmp_path / "no_config.ckpt", weights, None)
    with pytest.raises(ValueError, match=re.escape(str(no_config)) + ".*pass config="):
        load_published_gpt(no_config)
    assert load_published_gpt(no_config, config=SMALL_S1_CONFIG)[0].dim == 32

    odd = copy.deepcopy(SMALL_S1_CONFIG)
    odd["model"]["embedding_dim"] = 64
    odd_path = write_checkpoint(tmp_path / "odd.ckpt", weights, odd)
    with pytest.raises(ValueError, match=re.escape(str(odd_path)) + ".*must be equal"):
        load_published_gpt(odd_path)

    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointLoadError, match=re.escape(str(text))):
        load_published_gpt(text)

    unsafe = write_checkpoint(tmp_path / "unsafe.ckpt", weights, NotAConfig())
    with pytest.raises(CheckpointLoadError, match=re.escape(str(unsafe)) + ".*trust=True"):
        load_published_gpt(unsafe)


# ------------------------------------------------------------------------------------------ the network


def test_prefix_lm_mask_structure():
    mask = prefix_lm_mask(torch.tensor([2, 1]), torch.tensor([3, 1]), num_phones=2, num_tokens=3)[:, 0].int()
    assert mask.shape == (2, 5, 5)
    assert mask[0].tolist() == [
        [1, 1, 0, 0, 0],  # phones see phones only
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],  # tokens see every phone and the tokens up to themselves
        [1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1],
    ]
    # padding (second phone, tokens after the first) is hidden as a key from every query
    assert mask[1].tolist() == [[1, 0, 0, 0, 0], [1, 0, 0, 0, 0], [1, 0, 1, 0, 0], [1, 0, 1, 0, 0], [1, 0, 1, 0, 0]]


def test_later_tokens_do_not_change_earlier_logits_but_every_phone_changes_all():
    model = tiny_model()
    g = torch.Generator().manual_seed(1)
    phones, tokens = torch.randint(1, 600, (1, 6), generator=g), torch.randint(0, 1024, (1, 10), generator=g)
    lengths = (torch.tensor([6]), torch.tensor([10]))
    base = model.token_logits(phones, lengths[0], tokens, lengths[1])

    changed = tokens.clone()
    changed[0, 6] = (changed[0, 6] + 1) % 1024
    after = model.token_logits(phones, lengths[0], changed, lengths[1])
    torch.testing.assert_close(after[:, :6], base[:, :6], rtol=0, atol=1e-6)
    assert bool(((after[0, 6:] - base[0, 6:]).abs().amax(-1) > 1e-4).all())

    other_phone = phones.clone()
    other_phone[0, 5] = (other_phone[0, 5] + 7) % 600
    moved = model.token_logits(other_phone, lengths[0], tokens, lengths[1])
    assert bool(((moved[0] - base[0]).abs().amax(-1) > 1e-4).all())  # every token position

    bert = torch.randn(1, 1024, 6, generator=g)
    assert not torch.allclose(model.token_logits(phones, lengths[0], tokens, lengths[1], bert), base, atol=1e-4)
    # no BERT features = zero features
    zeros = torch.zeros(1, 1024, 6)
    torch.testing.assert_close(model.token_logits(phones, lengths[0], tokens, lengths[1], zeros), base)


def test_layers_compute_what_torch_post_norm_encoder_layers_compute():
    # The published layers are torch-style TransformerEncoderLayers with norm_first=False (post-norm),
    # ReLU and eps 1e-5; the same weights in torch's own layer give the same output under the same mask.
    model = tiny_model()
    ours = model.h.layers[0]
    theirs = torch.nn.TransformerEncoderLayer(32, 2, 128, dropout=0.0, batch_first=True, norm_first=False).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 7, 32, generator=torch.Generator().manual_seed(0))
    mask = prefix_lm_mask(torch.tensor([3, 2]), torch.tensor([4, 2]), num_phones=3, num_tokens=4)
    blocked = (~mask[:, 0]).repeat_interleave(2, dim=0)  # torch: True = may not attend, one mask per head
    torch.testing.assert_close(ours(x, mask), theirs(x, src_mask=blocked), rtol=1e-5, atol=1e-5)


def test_positions_are_interleaved_sinusoids_scaled_by_alpha():
    model = tiny_model()
    with torch.no_grad():
        model.ar_audio_position.alpha.fill_(2.5)
    tokens = torch.tensor([[5, 5, 5]])
    added = model.embed_tokens(tokens) - model.ar_audio_embedding(tokens)  # the embedding itself is unscaled
    position = torch.arange(3.0).unsqueeze(1)
    frequencies = 10000.0 ** (-torch.arange(0, 32, 2) / 32)
    expected = torch.stack([torch.sin(position * frequencies), torch.cos(position * frequencies)], dim=-1).flatten(1)
    torch.testing.assert_close(added[0], 2.5 * expected, rtol=1e-5, atol=1e-5)
    # explicit positions (a decoding step) give the rows of the same table
    step = model.embed_tokens(tokens[:, :1], torch.tensor([[2]]))
    torch.testing.assert_close(step, model.embed_tokens(tokens)[:, 2:])


def test_padding_changes_nothing_and_the_loss_is_a_sum_over_items():
    model = tiny_model()
    batch = prompt_batch()
    args = (batch["phone_ids"], batch["phone_lengths"], batch["prompt_tokens"], batch["prompt_lengths"])
    logits = model.token_logits(*args)
    total = model(*args)
    assert int(total.num_targets) == int(batch["prompt_lengths"].sum()) + 3  # each item's tokens + end-of-speech
    item_losses = []
    for i in range(3):
        n, t = int(batch["phone_lengths"][i]), int(batch["prompt_lengths"][i])
        alone = (batch["phone_ids"][i : i + 1, :n], torch.tensor([n]),
                 batch["prompt_tokens"][i : i + 1, :t], torch.tensor([t]))
        torch.testing.assert_close(model.token_logits(*alone)[0], logits[i, :t], rtol=1e-5, atol=1e-5)
        item_losses.append(model(*alone).ce_loss)
    torch.testing.assert_close(total.ce_loss, torch.stack(item_losses).sum(), rtol=1e-5, atol=1e-5)
    # the first token is predicted at the last phone, end-of-speech after the last token, padding has none
    targets = model.training_targets(batch["prompt_tokens"], batch["prompt_lengths"])
    tokens = batch["prompt_tokens"][1].tolist()
    assert int(batch["prompt_lengths"][1]) == 2
    assert targets[1].tolist() == [tokens[0], tokens[1], EOS, -100, -100, -100, -100]
    training = model.training_logits(*args)
    last_phone = model.next_token_logits(batch["phone_ids"], batch["phone_lengths"], batch["prompt_tokens"],
                                         torch.zeros(3, dtype=torch.long))
    torch.testing.assert_close(training[:, 0], last_phone, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(training[:, 1:], logits, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------ decoding


def test_kv_cache_decoding_equals_full_recomputation():
    model = tiny_model()
    batch = prompt_batch()
    bert = torch.randn(3, 1024, 9, generator=torch.Generator().manual_seed(2))
    greedy = SamplingSettings(top_k=1, min_new_tokens=0, max_new_tokens=12)
    cached = decode(model, **batch, bert_features=bert, settings=greedy, return_logits=True)
    full = decode(model, **batch, bert_features=bert, settings=greedy, use_cache=False, return_logits=True)
    assert torch.equal(cached.tokens, full.tokens) and torch.equal(cached.lengths, full.lengths)
    assert torch.equal(cached.stopped_at_eos, full.stopped_at_eos)
    torch.testing.assert_close(cached.logits, full.logits, rtol=1e-4, atol=1e-5, equal_nan=True)
    # each item continues its own prompt: decoding it alone gives the same tokens
    for i in range(3):
        n, t = int(batch["phone_lengths"][i]), int(batch["prompt_lengths"][i])
        alone = decode(model, batch["phone_ids"][i : i + 1, :n], torch.tensor([n]),
                       batch["prompt_tokens"][i : i + 1, :t], torch.tensor([t]),
                       bert_features=bert[i : i + 1, :, :n], settings=greedy)
        assert torch.equal(alone.sequences()[0], cached.sequences()[i])
    # and the first step's logits are those of one pass over [phones ; prompt]
    first = model.next_token_logits(batch["phone_ids"], batch["phone_lengths"], batch["prompt_tokens"],
                                    batch["prompt_lengths"], bert)
    torch.testing.assert_close(cached.logits[:, 0], first, rtol=1e-4, atol=1e-5)


def test_an_empty_prompt_decodes_from_the_phones_alike_in_both_paths():
    model = tiny_model()
    batch = {**prompt_batch(), "prompt_lengths": torch.tensor([6, 0, 4])}
    greedy = SamplingSettings(top_k=1, min_new_tokens=0, max_new_tokens=5)
    assert torch.equal(decode(model, **batch, settings=greedy).tokens,
                       decode(model, **batch, settings=greedy, use_cache=False).tokens)


def test_seeded_sampling_is_reproducible_and_seed_dependent():
    model = tiny_model()
    batch = prompt_batch()
    settings = SamplingSettings(top_k=50, top_p=0.95, temperature=1.2, min_new_tokens=8, max_new_tokens=8)
    first = decode(model, **batch, settings=settings, seed=0)
    assert torch.equal(first.tokens, decode(model, **batch, settings=settings, seed=0).tokens)
    assert torch.equal(first.tokens, decode(model, **batch, settings=settings,
                                            generator=torch.Generator().manual_seed(0)).tokens)
    assert not torch.equal(first.tokens, decode(model, **batch, settings=settings, seed=1).tokens)
    # both paths draw the same numbers, so they sample the same tokens too
    assert torch.equal(first.tokens, decode(model, **batch, settings=settings, seed=0, use_cache=False).tokens)


def test_min_and_max_length_are_respected():
    model = tiny_model()
    batch = prompt_batch()
    forced = ForcedEOS(model, 100.0)  # end-of-speech is the likeliest token everywhere
    try:
        for use_cache in (True, False):
            at_once = decode(model, **batch, settings=SamplingSettings(min_new_tokens=0), use_cache=use_cache)
            assert at_once.lengths.tolist() == [0, 0, 0] and bool(at_once.stopped_at_eos.all())
            assert at_once.tokens.shape == (3, 0)
            held = decode(model, **batch, settings=SamplingSettings(min_new_tokens=4), use_cache=use_cache, seed=0)
            assert held.lengths.tolist() == [4, 4, 4] and bool(held.stopped_at_eos.all())
            assert bool((held.tokens < EOS).all())
    finally:
        forced.remove()
    forced = ForcedEOS(model, -100.0)  # end-of-speech never wins
    try:
        capped = decode(model, **batch, settings=SamplingSettings(max_new_tokens=7), seed=0)
    finally:
        forced.remove()
    assert capped.lengths.tolist() == [7, 7, 7] and not bool(capped.stopped_at_eos.any())


def test_sampling_steps_follow_the_published_order():
    logits = torch.tensor([[4.0, 3.0, -1.0, 0.5, -2.0]])
    no_noise = torch.ones(1, 5)
    nothing_seen = torch.zeros(1, 5, dtype=torch.bool)
    greedy = SamplingSettings(top_k=1, repetition_penalty=1.0)
    assert choose_tokens(logits, nothing_seen, no_noise, greedy, True, eos_id=4)[0].tolist() == [0]
    # a seen token's positive logit is divided by the penalty: 4 / 1.5 < 3
    seen = torch.tensor([[True, False, False, False, False]])
    penalised = SamplingSettings(top_k=1, repetition_penalty=1.5)
    assert choose_tokens(logits, seen, no_noise, penalised, True, eos_id=4)[0].tolist() == [1]
    # end-of-speech (id 4 here) is masked before min length; once likeliest it is reported as such
    eos_first = torch.tensor([[0.0, 0.0, 0.0, 0.0, 9.0]])
    assert choose_tokens(eos_first, nothing_seen, no_noise, greedy, False, eos_id=4)[0].item() != 4
    assert choose_tokens(eos_first, nothing_seen, no_noise, greedy, True, eos_id=4)[1].tolist() == [True]
    # top-p drops what follows once the cumulative probability passes the threshold (first kept)
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05, 0.0]]).clamp(min=1e-9).log()
    picks = set()
    for seed in range(200):
        noise = torch.empty(1, 5).exponential_(generator=torch.Generator().manual_seed(seed))
        picks.add(choose_tokens(probs, nothing_seen, noise, SamplingSettings(top_k=None, top_p=0.85,
                                                                                 repetition_penalty=1.0),
                                True, eos_id=4)[0].item())
    assert picks == {0, 1}
    with pytest.raises(ValueError, match="temperature"):
        SamplingSettings(temperature=0)


# ------------------------------------------------------------------------------------------ training


def test_rejected_sequences_repeat_or_skip_a_span():
    tokens = torch.arange(16 * 8).reshape(16, 8) % 1000
    lengths = torch.tensor([8, 5, 1, 2] * 4)
    rejected, rejected_lengths = make_rejected_tokens(tokens, lengths, torch.Generator().manual_seed(0))
    longer = shorter = 0
    for row, length, new, new_length in zip(tokens, lengths.tolist(), rejected, rejected_lengths.tolist()):
        original, corrupted = row[:length].tolist(), new[:new_length].tolist()
        assert corrupted != original and new_length >= 1
        if new_length > length:
            longer += 1
            assert corrupted[:1] == original[:1] and set(corrupted) == set(original)
        else:
            shorter += 1
            assert set(corrupted) < set(original)
    assert longer and shorter
    assert rejected_lengths[2] == 2  # a one-token item can only be repeated


def test_tiny_model_overfits_one_batch_and_then_decodes_it():
    torch.manual_seed(0)
    model = instantiate(OmegaConf.load(CONFIGS / "tiny.yaml"))
    g = torch.Generator().manual_seed(0)
    phones, phone_lengths = torch.randint(1, 600, (2, 6), generator=g), torch.tensor([6, 4])
    tokens, token_lengths = torch.randint(0, 1024, (2, 9), generator=g), torch.tensor([9, 6])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(60):
        output = model(phones, phone_lengths, tokens, token_lengths, dpo=step % 2 == 1,
                       generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        losses.append(output.ce_loss.item())
    assert losses[0] > 50 and losses[-1] < 0.05 * losses[0], losses[::10]
    assert output.accuracy.item() == 1.0 and torch.isfinite(output.dpo_loss)

    # greedy decoding from the first two tokens continues the memorised ones and stops at its own end
    model.eval()
    greedy = SamplingSettings(top_k=1, repetition_penalty=1.0, min_new_tokens=0, max_new_tokens=12)
    for use_cache in (True, False):
        result = decode(model, phones, phone_lengths, tokens[:, :2], torch.tensor([2, 2]), settings=greedy,
                        use_cache=use_cache)
        assert result.lengths.tolist() == [7, 4] and bool(result.stopped_at_eos.all())
        assert result.sequences()[0].tolist() == tokens[0, 2:9].tolist()
        assert result.sequences()[1].tolist() == tokens[1, 2:6].tolist()


def test_decoding_benchmark_runs_and_both_paths_agree(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_gpt_decoding", ROOT / "eval" / "bench_gpt_decoding.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.main(["--quick", "--out", str(tmp_path / "bench.json")])
    assert report["tokens_equal"] and report["first_differing_token"] is None
    assert report["max_abs_logit_difference"] < 1e-4
    for path in ("kv_cache", "no_cache"):
        assert math.isfinite(report[path]["tokens_per_second"]) and report[path]["tokens_per_second"] > 0
    assert json.loads((tmp_path / "bench.json").read_text())["settings"]["network"] == "tiny"
