"""Semantic tokens of a corpus, from a trained SoVITS model: what the GPT stage trains on.

They are a feature of the feature cache like any other (see `sonicsynth.data.feature_cache`):

    <cache>/semantic_tokens-<hash>/settings.json            the model and content features they come from
    <cache>/semantic_tokens-<hash>/<aa>/<audio sha256>.npz  "semantic_tokens": int64 (codebooks, tokens)
    <cache>/semantic_tokens-<hash>/extraction_summary.json  the last run: counts, the model, every problem

The hash covers the SoVITS model's compatibility id, the hash of the weights that make tokens (content
projection and codebook) and the settings of its content features, so the tokens of two models never
mix and a model whose token side is unchanged finds its tokens again. Why the cache rather than the
TSV GPT-SoVITS writes (`name<TAB>tokens`): the GPT's datamodule reads manifest + cache exactly as the
SoVITS one reads content features (padded, with lengths, keyed by the audio's content, so a renamed
corpus keeps its tokens); a re-run skips the recordings that have tokens; writes are atomic.
`load_semantic_tokens` gives them keyed by utterance id; `SemanticTokenFeature` names them as a
feature of a datamodule (`data.features`), so the GPT stage batches them like any cached feature and
records which model they came from; `require_token_source` refuses a SoVITS model other than the one
the tokens (and so a GPT trained on them) came from.

Content features are read from the cache when prepared with the settings the model recorded (as
training read them), else computed with the model's extractor and cached (`prepare_recording`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sonicsynth.audio import AudioError, load_audio, resample
from sonicsynth.data.feature_cache import AudioHashIndex, FeatureCache, feature_key, prepare_recording
from sonicsynth.data.manifest import read_manifest
from sonicsynth.export.package import CompatibilityError
from sonicsynth.features.extractors import FeatureExtractor
from sonicsynth.utils.atomic import atomic_write

log = logging.getLogger(__name__)

TOKENS_NAME = "semantic_tokens"
# What identifies a model's tokens: equal in two token settings, the same ids mean the same sounds.
TOKEN_IDENTITY = ("compatibility_id", "token_weights_sha256")
SUMMARY_FILE = "extraction_summary.json"


def token_weights_sha256(generator: torch.nn.Module) -> str:
    """SHA-256 of the weights that turn content features into tokens (content projection + quantizer),
    over names, dtypes, shapes and bytes: equal exactly when two models give the same tokens."""
    digest = hashlib.sha256()
    for prefix, module in (("ssl_proj.", generator.ssl_proj), ("quantizer.", generator.quantizer)):
        for name, tensor in sorted(module.state_dict().items()):
            tensor = tensor.detach().cpu().contiguous()
            digest.update(f"{prefix}{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def token_settings(resynthesizer) -> dict[str, Any]:
    """What the tokens of `resynthesizer` (a `SoVITSResynthesizer`) depend on; hashed into their key."""
    generator = resynthesizer.generator
    return {
        "kind": "sovits_semantic_tokens",
        "compatibility_id": resynthesizer.source.get("compatibility_id"),
        "token_weights_sha256": token_weights_sha256(generator),
        "codebook_size": generator.codebook_size,
        "codebooks": generator.quantizer.num_quantizers,
        "token_hz": resynthesizer.sample_rate / resynthesizer.samples_per_token,
        "content_key": resynthesizer.content_key,
        "content": resynthesizer.content_settings,
        "frames": {"sample_rate": resynthesizer.sample_rate, "hop_length": resynthesizer.hop_length,
                   "token_upsample": generator.token_upsample},
    }


class SemanticTokenFeature(FeatureExtractor):
    """The semantic tokens of a trained SoVITS model as a feature of the cache: its key is the one
    `extract_semantic_tokens` writes them under, so a datamodule listing it in `features` reads the
    extracted tokens (and reports the utterances that have none), and its record (name, settings:
    the model's compatibility id and token-weight hash) travels with the models trained on them.

    Computing them here (`prepare_features`) gives the same tokens as the extraction script when the
    content extractor reads the model's own sample rate; at another rate the waveform is resampled
    from the model's rate rather than read from the file, so prefer the script there.
    """

    name = TOKENS_NAME

    def __init__(self, model: str, content: dict[str, Any] | None = None, trust: bool = False) -> None:
        from sonicsynth.pipelines.resynth import SoVITSResynthesizer

        self.resynthesizer = SoVITSResynthesizer.load(model, content=content, trust=trust)
        self.sample_rate = self.resynthesizer.sample_rate
        self._settings = token_settings(self.resynthesizer)

    def settings(self) -> dict[str, Any]:
        return self._settings

    def __call__(self, wav: np.ndarray) -> dict[str, np.ndarray]:
        model = self.resynthesizer
        content_rate = model.content_extractor.sample_rate
        content = model.content_features(resample(wav, self.sample_rate, content_rate))
        tokens = model.tokens_from_content(content, model.frames_of(len(wav)))
        return {TOKENS_NAME: tokens.cpu().numpy().astype(np.int64)}


@dataclass
class TokenExtractionSummary:
    manifest: str
    key: str
    utterances: int
    model: dict[str, Any]
    computed: int = 0
    reused: int = 0
    content: Counter = field(default_factory=Counter)  # "from_cache" / "computed"
    problems: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "key": self.key, "utterances": self.utterances, "model": self.model,
                "computed": self.computed, "reused": self.reused, "content": dict(self.content),
                "problems": self.problems, "seconds": round(self.seconds, 3)}


def extract_semantic_tokens(
    manifest_path: str | Path,
    cache_root: str | Path,
    resynthesizer,
    compute_content: bool = True,
    max_seconds: float | None = 60.0,
    progress: bool = True,
) -> TokenExtractionSummary:
    """Write the semantic tokens of every utterance of a manifest into the cache (see the module
    docstring); returns the summary, also written beside the tokens. Resumable: recordings that have
    tokens are skipped. A bad item never stops the run; it is listed with its reason."""
    start = time.perf_counter()
    if not resynthesizer.generator.quantizer.is_initialised:
        raise ValueError(f"{resynthesizer.checkpoint_path}: the codebook was never trained; every token would be 0")
    manifest_path = Path(manifest_path)
    utterances = read_manifest(manifest_path)
    cache = FeatureCache(cache_root)
    cache.root.mkdir(parents=True, exist_ok=True)
    key = cache.write_settings_of(TOKENS_NAME, token_settings(resynthesizer))
    content_key = resynthesizer.content_cache_key or feature_key(resynthesizer.content_extractor)
    model = {**resynthesizer.source, "content_cache_key": content_key}
    summary = TokenExtractionSummary(str(manifest_path), key, len(utterances), model)
    hashes = AudioHashIndex(cache.root / "audio_hashes.json")

    def problem(utterance, audio: Path, reason: str) -> None:
        summary.problems.append({"id": utterance.id, "path": str(audio), "reason": reason})

    for utterance in tqdm(utterances, desc="semantic tokens", disable=not progress):
        audio = utterance.audio_file(manifest_path.parent)
        if not audio.is_file():
            problem(utterance, audio, "missing audio file")
            continue
        sha = hashes.sha256(audio)
        if cache.has(key, sha):
            summary.reused += 1
            continue
        if cache.has(content_key, sha):
            summary.content["from_cache"] += 1
        elif not compute_content:
            problem(utterance, audio, f"content features not prepared ({content_key}) and compute_content is off")
            continue
        else:
            try:
                extractor = resynthesizer.content_extractor
            except (ValueError, FileNotFoundError, ImportError) as err:
                reason = f"content features not prepared ({content_key}) and cannot be computed: {err}"
                problem(utterance, audio, reason)
                continue
            _, reason = prepare_recording([extractor], cache, audio, sha, max_seconds)
            if reason:
                problem(utterance, audio, reason)
                continue
            summary.content["computed"] += 1
        try:
            content = cache.load(content_key, sha)[resynthesizer.content_key]
            samples = len(load_audio(audio, resynthesizer.sample_rate).samples)
            tokens = resynthesizer.tokens_from_content(content, resynthesizer.frames_of(samples))
        except (AudioError, ValueError, KeyError) as err:
            problem(utterance, audio, f"no tokens: {err}")
            continue
        cache.save(key, sha, {TOKENS_NAME: tokens.cpu().numpy().astype(np.int64)})
        summary.computed += 1
    hashes.save()

    summary.seconds = time.perf_counter() - start
    with atomic_write(cache.root / key / SUMMARY_FILE, "w") as f:
        json.dump(summary.as_dict(), f, indent=2)
    if summary.problems:
        log.warning("%d item(s) have no semantic tokens; see %s", len(summary.problems),
                    cache.root / key / SUMMARY_FILE)
    return summary


def load_semantic_tokens(manifest_path: str | Path, cache_root: str | Path, key: str) -> dict[str, np.ndarray]:
    """Utterance id -> its (codebooks, tokens) int64 tokens, for the utterances of the manifest that have them."""
    manifest_path = Path(manifest_path)
    cache = FeatureCache(cache_root)
    hashes = AudioHashIndex(cache.root / "audio_hashes.json")
    tokens = {}
    for utterance in read_manifest(manifest_path):
        audio = utterance.audio_file(manifest_path.parent)
        if audio.is_file():
            sha = hashes.sha256(audio)
            if cache.has(key, sha):
                tokens[utterance.id] = cache.load(key, sha)[TOKENS_NAME]
    return tokens


def require_token_source(recorded: dict[str, Any], resynthesizer, where: str) -> None:
    """Refuse a SoVITS model whose tokens are not those of `recorded` (the token settings that tokens,
    or a GPT trained on them, came from; `where` names them in the message): another compatibility id,
    or other token weights."""
    current = token_settings(resynthesizer)
    for name in TOKEN_IDENTITY:
        if recorded.get(name) != current[name]:
            raise CompatibilityError(
                f"{where} come from a SoVITS model with {name} {recorded.get(name)!r}; "
                f"{resynthesizer.checkpoint_path} has {current[name]!r}: its semantic tokens mean other sounds"
            )
