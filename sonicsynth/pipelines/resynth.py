"""Re-synthesis with SoVITS: an utterance, its transcript and a reference clip -> the utterance spoken
in the reference's voice (`python infer.py task=resynth ...`).

    input wav      --content extractor--> content features --extract_tokens--> semantic tokens
    transcript     --text front end----> phone ids
    reference wav  --linear spectrogram--> the timbre the decoder is conditioned on
    tokens + phone ids + reference spectrogram --decode (noise_scale, seed)--> wav

Each arrow is one small method of `SoVITSResynthesizer`, so the evaluation, the token extraction
(`sonicsynth.data.semantic_tokens`) and the TTS pipeline (whose GPT stage predicts the tokens from
text) share them. The model's inputs are computed as in training: the content features with the
extractor the model recorded (`load_sovits` info "content_extractor"; its settings are checked
against the one built here), brought to the spectrogram frame rate with `resample_frames`; the
phone ids with `model_phone_ids` under the recorded text settings, in the symbol table the model
records: ours for models trained here, the published GPT-SoVITS v2 table for published files
(`sonicsynth.text.published_symbols`), whose phone embedding would read other phones from our ids.

Bad input is refused before anything is written, with a message naming the file: a reference clip
outside `reference_min_sec`-`reference_max_sec` (3-10 s, the range GPT-SoVITS accepts), an input
or reference without speech, an empty transcript, an unknown language. Audio at another sample rate
is resampled (and the log says so). The output wav and the generation log are written atomically.
"""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import get_class, instantiate

from sonicsynth.audio import LinearSpectrogram, LoadedAudio, load_audio, save_audio, silence_problem
from sonicsynth.data.feature_cache import settings_key
from sonicsynth.data.speech_datamodule import model_phone_ids, model_words
from sonicsynth.features.extractors import FeatureExtractor
from sonicsynth.models.sovits.generator import SoVITSGenerator
from sonicsynth.models.sovits.lightning_module import spectrogram_settings
from sonicsynth.models.sovits.loading import load_sovits
from sonicsynth.models.sovits.sequence import resample_frames
from sonicsynth.pipelines.generation_log import GenerationLog
from sonicsynth.text import PhonemizedText, Word
from sonicsynth.text.phone_tables import SYMBOL_TABLE_SIZES, require_known_table

log = logging.getLogger(__name__)

# The reference lengths GPT-SoVITS accepts: shorter gives too little of the voice, longer slows the
# timbre encoder without helping.
REFERENCE_MIN_SEC = 3.0
REFERENCE_MAX_SEC = 10.0
# Below this level even the loudest 25 ms of a clip is no speech (see `silence_problem`).
MIN_SPEECH_LEVEL_DB = -50.0


class ResynthesisInputError(ValueError):
    """An input the resynthesis cannot use; the message names the file (or the parameter) and the problem."""


@dataclass
class Resynthesis:
    """What one resynthesis produced, and from what."""

    audio: np.ndarray  # (samples,) float32 at `sample_rate`
    sample_rate: int
    tokens: torch.Tensor  # (codebooks, tokens) int64 semantic tokens of the input
    phone_ids: list[int]
    text: PhonemizedText
    input: LoadedAudio  # at the model's rate
    reference: LoadedAudio  # at the model's rate
    content_notes: list[str] = field(default_factory=list)  # of the input read at the content rate
    timings_sec: dict[str, float] = field(default_factory=dict)


def audio_details(audio: LoadedAudio, extra_notes: list[str] = ()) -> dict[str, Any]:
    """The generation-log entry of an input file: exact duration from its own sample count, its rate,
    channels and what was done to it (resampling, down-mixing)."""
    return {
        "duration_sec": audio.original_duration,
        "num_samples": audio.original_num_samples,
        "sample_rate": audio.original_sample_rate,
        "channels": audio.original_channels,
        "notes": [*audio.notes, *extra_notes],
    }


class SoVITSResynthesizer:
    """A SoVITS generator with the front ends that make its inputs; see the module docstring.

    generator, info: from `load_sovits` (or use `SoVITSResynthesizer.load`). content: settings laid
    over the recorded content extractor config, e.g. {"model_dir": ...} for the HuBERT directory of a
    published model or of another machine. check_content_settings: refuse an extractor whose settings
    differ from those the model recorded (a different content model gives meaningless tokens).
    Reference bounds and the speech level are parameters (None switches a check off).
    """

    def __init__(
        self,
        generator: SoVITSGenerator,
        info: dict[str, Any],
        content: dict[str, Any] | None = None,
        *,
        device: str | torch.device = "cpu",
        reference_min_sec: float | None = REFERENCE_MIN_SEC,
        reference_max_sec: float | None = REFERENCE_MAX_SEC,
        min_speech_level_db: float | None = MIN_SPEECH_LEVEL_DB,
        check_content_settings: bool = True,
    ) -> None:
        self.device = torch.device(device)
        self.generator = generator.eval().to(self.device)
        self.info = info
        self.reference_min_sec, self.reference_max_sec = reference_min_sec, reference_max_sec
        self.min_speech_level_db = min_speech_level_db
        self.check_content_settings = check_content_settings

        self.spectrogram_settings = spectrogram_settings(info["spectrogram"])
        if self.spectrogram_settings["hop_length"] != generator.hop_length:
            raise ValueError(
                f"{self.checkpoint_path}: spectrogram hop_length {self.spectrogram_settings['hop_length']} != the "
                f"decoder's hop length {generator.hop_length}"
            )
        stft = {k: self.spectrogram_settings[k] for k in ("n_fft", "hop_length", "win_length", "center")}
        self.spectrogram = LinearSpectrogram(**stft).to(self.device)

        self.content_key: str = info.get("content_key") or "content"
        self.content_record: dict[str, Any] = dict(info.get("content_extractor") or {})
        self.content_overrides = {k: v for k, v in (content or {}).items() if v is not None}
        self._content_extractor: FeatureExtractor | None = None

        self.text_settings: dict[str, Any] = dict(info["text_settings"])
        require_known_table(self.symbol_table, self.checkpoint_path)
        n_symbols = generator.enc_p.text_embedding.num_embeddings
        if SYMBOL_TABLE_SIZES[self.symbol_table] > n_symbols:
            raise ValueError(
                f"{self.checkpoint_path}: the model's text embedding has {n_symbols} rows, fewer than the "
                f"{SYMBOL_TABLE_SIZES[self.symbol_table]} symbols of the table it records ({self.symbol_table!r})"
            )
        self._frontend = None

    @classmethod
    def load(cls, path: str | Path, content: dict[str, Any] | None = None, trust: bool = False,
             **kwargs: Any) -> "SoVITSResynthesizer":
        """From a package directory, a training .ckpt or a published GPT-SoVITS file (`load_sovits`)."""
        generator, info = load_sovits(path, trust=trust)
        return cls(generator, info, content, **kwargs)

    # ------------------------------------------------------------------ sizes and identity
    @property
    def sample_rate(self) -> int:
        return self.spectrogram_settings["sample_rate"]

    @property
    def hop_length(self) -> int:
        return self.generator.hop_length

    @property
    def samples_per_token(self) -> int:
        """Output samples per semantic token: token_upsample spectrogram frames of hop_length each."""
        return self.generator.token_upsample * self.generator.hop_length

    @property
    def source(self) -> dict[str, Any]:
        """Where the generator came from (kind, path, hashes, compatibility id)."""
        return self.info["source"]

    @property
    def checkpoint_path(self) -> str:
        return self.info.get("source", {}).get("path", "the SoVITS model")

    def frames_of(self, num_samples: int) -> int:
        """Spectrogram frames of a clip of `num_samples` samples at the model's rate (as in training)."""
        return num_samples // self.hop_length

    # ------------------------------------------------------------------ content -> tokens
    @property
    def content_cache_key(self) -> str | None:
        """The feature-cache key of this model's content features, known without building the
        extractor when the model recorded its settings (else None)."""
        settings = self.content_record.get("settings")
        return settings_key(self.content_record.get("name") or self.content_key, settings) if settings else None

    @property
    def content_settings(self) -> dict[str, Any]:
        """The settings of the content features: the recorded ones, else those of the extractor built here."""
        return self.content_record.get("settings") or self.content_extractor.settings()

    @property
    def content_extractor(self) -> FeatureExtractor:
        """The content extractor, built on first use (a self-supervised model is large)."""
        if self._content_extractor is None:
            self._content_extractor = self._build_content_extractor()
        return self._content_extractor

    def content_extractor_config(self) -> dict[str, Any]:
        """The recorded extractor config with the caller's settings laid over it."""
        config = {**(self.content_record.get("config") or {}), **self.content_overrides}
        if "_target_" not in config:
            raise ValueError(
                f"{self.checkpoint_path}: the model does not say which extractor made its {self.content_key!r} "
                "content features; give one (content._target_=...)"
            )
        try:
            parameters = inspect.signature(get_class(config["_target_"])).parameters
        except (ImportError, ValueError, TypeError) as err:
            raise ValueError(f"{self.checkpoint_path}: content extractor {config['_target_']!r}: {err}") from err
        if "device" in parameters and "device" not in self.content_overrides:
            config["device"] = str(self.device)
        missing = [name for name, p in parameters.items()
                   if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                   and config.get(name) is None]
        if missing:
            raise ValueError(
                f"{self.checkpoint_path}: its content extractor {config['_target_']} needs {', '.join(missing)}: "
                f"set content.{missing[0]}=... (e.g. the model directory of the {self.content_key!r} features)"
            )
        return config

    def _build_content_extractor(self) -> FeatureExtractor:
        config = self.content_extractor_config()
        try:
            extractor = instantiate(config, _convert_="all")
        except Exception as err:
            raise ValueError(
                f"{self.checkpoint_path}: cannot build its content extractor {config['_target_']}: {err}"
            ) from err
        if extractor.name != self.content_key:
            raise ValueError(
                f"{self.checkpoint_path}: the model reads {self.content_key!r} content features, "
                f"{config['_target_']} makes {extractor.name!r}"
            )
        recorded = self.content_record.get("settings")
        if recorded is not None and self.check_content_settings:
            given = extractor.settings()
            if given != recorded:
                differences = "; ".join(
                    f"{k}: trained with {recorded.get(k)!r}, given {given.get(k)!r}"
                    for k in sorted(set(recorded) | set(given)) if recorded.get(k) != given.get(k)
                )
                raise ValueError(
                    f"{self.checkpoint_path}: the content extractor built from {config} is not the one the model "
                    f"was trained with ({differences}); its tokens would be meaningless to this model"
                )
        elif recorded is None:
            log.warning("%s records no content extractor settings: %s is used unchecked", self.checkpoint_path,
                        config["_target_"])
        return extractor

    def load_content_audio(self, path: str | Path) -> LoadedAudio:
        """The clip at the content extractor's rate, read from the file (as the feature cache reads it)."""
        return load_audio(path, self.content_extractor.sample_rate)

    def content_features(self, samples: np.ndarray) -> np.ndarray:
        """Mono float32 samples at the content extractor's rate -> (content dim, frames) float32."""
        arrays = self.content_extractor(np.ascontiguousarray(samples, dtype=np.float32))
        return arrays[self.content_key]

    def tokens_from_content(self, content: np.ndarray | torch.Tensor, frames: int) -> torch.Tensor:
        """(content dim, content frames) features of a clip of `frames` spectrogram frames ->
        (codebooks, frames // token_upsample) int64 semantic tokens in [0, codebook_size).

        The features are brought to the spectrogram frame rate first, as `SoVITSLitModule` does in
        training, so tokens are those the model was trained on.
        """
        content = torch.as_tensor(np.asarray(content), dtype=torch.float32)
        expected = self.generator.ssl_proj.in_channels
        if content.dim() != 2 or content.shape[0] != expected:
            raise ValueError(
                f"content features of shape {tuple(content.shape)}: the model's content projection takes "
                f"({expected}, frames) ({self.content_key!r} features of the extractor it was trained with)"
            )
        if frames < self.generator.token_upsample:
            raise ValueError(f"{frames} spectrogram frames are too few for one token ({self.generator.token_upsample})")
        content = content.unsqueeze(0).to(self.device)
        lengths = torch.tensor([content.shape[-1]], device=self.device)
        at_frames = resample_frames(content, lengths, torch.tensor([frames], device=self.device), frames)
        return self.generator.extract_tokens(at_frames)[0]

    # ------------------------------------------------------------------ text -> phone ids
    @property
    def symbol_table(self) -> str:
        """The table the model's phone ids index (see `sonicsynth.text.phone_tables`)."""
        return self.text_settings.get("symbol_table_version")

    @property
    def frontend(self):
        if self._frontend is None:
            self._frontend = instantiate(self.text_settings["frontend"], _convert_="all")
        return self._frontend

    def phone_ids(self, text: str, language: str) -> tuple[list[int], PhonemizedText]:
        """A transcript -> (the phone ids the model reads, in its table; the front end's result).
        ValueError for empty text, an unknown language, nothing speakable, or a phone the model's
        table has no counterpart for (e.g. Czech for a published GPT-SoVITS model)."""
        if not isinstance(text, str) or not text.strip():
            raise ResynthesisInputError(f"the transcript is empty ({text!r}): give the text the input says")
        phonemized = self.frontend.process(text, language)
        ids, _ = model_phone_ids(phonemized, self.text_settings["acoustic_phones_only"], self.symbol_table,
                                 self.checkpoint_path)
        if not ids:
            raise ResynthesisInputError(f"no phones left of the transcript {text!r}")
        n_symbols = self.generator.enc_p.text_embedding.num_embeddings
        if max(ids) >= n_symbols:
            raise ValueError(
                f"{self.checkpoint_path}: phone id {max(ids)} of {text!r} is outside the model's text embedding "
                f"({n_symbols} symbols)"
            )
        return ids, phonemized

    def model_words(self, phonemized: PhonemizedText) -> list[Word]:
        """The words behind `phone_ids`' ids, their phones named in the model's table (what per-word
        features such as BERT's are aligned to)."""
        return model_words(phonemized, self.text_settings["acoustic_phones_only"], self.symbol_table,
                           self.checkpoint_path)

    # ------------------------------------------------------------------ audio checks
    def check_speech(self, audio: LoadedAudio, role: str) -> LoadedAudio:
        """Refuse (naming the file) a clip that holds no speech: silent or near-silent."""
        problem = silence_problem(audio.samples, audio.sample_rate, self.min_speech_level_db)
        if problem:
            raise ResynthesisInputError(f"{audio.path}: the {role} clip holds no speech: {problem}")
        return audio

    def load_input(self, path: str | Path) -> LoadedAudio:
        """The input utterance at the model's rate, checked: speech, at least one token long."""
        audio = self.check_speech(load_audio(path, self.sample_rate), "input")
        if self.frames_of(len(audio.samples)) < self.generator.token_upsample:
            raise ResynthesisInputError(
                f"{path}: the input is {audio.original_duration:.3f} s, too short for one semantic token "
                f"({self.samples_per_token / self.sample_rate:.3f} s)"
            )
        return audio

    def load_reference(self, path: str | Path) -> LoadedAudio:
        """The reference clip at the model's rate, checked: speech, and within the duration bounds
        (exact duration from the file's own sample count)."""
        audio = load_audio(path, self.sample_rate)
        duration = audio.original_duration
        low, high = self.reference_min_sec, self.reference_max_sec
        if (low is not None and duration < low) or (high is not None and duration > high):
            bounds = f"{low if low is not None else 0:g}-{high if high is not None else float('inf'):g} s"
            raise ResynthesisInputError(
                f"{path}: the reference clip is {duration:.3f} s; it must be {bounds} long "
                "(reference_min_sec / reference_max_sec)"
            )
        return self.check_speech(audio, "reference")

    # ------------------------------------------------------------------ reference -> spectrogram
    def reference_spectrogram(self, samples: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mono samples at the model's rate -> (1, bins, frames) linear magnitude spectrogram, the
        frames of the whole hops (as in training)."""
        wav = torch.as_tensor(np.asarray(samples), dtype=torch.float32).reshape(1, -1).to(self.device)
        frames = self.frames_of(wav.shape[-1])
        if frames < 1:
            raise ValueError(f"a reference of {wav.shape[-1]} samples is shorter than one hop ({self.hop_length})")
        with torch.no_grad():
            return self.spectrogram(wav)[..., :frames]

    # ------------------------------------------------------------------ tokens + phones + reference -> wav
    def synthesize(
        self,
        tokens: torch.Tensor,
        phone_ids: list[int] | torch.Tensor,
        reference_spec: torch.Tensor,
        *,
        noise_scale: float = 0.5,
        seed: int = 0,
    ) -> np.ndarray:
        """(codebooks, tokens) or (tokens,) semantic tokens + phone ids + a reference spectrogram ->
        (tokens * samples_per_token,) float32 samples at `sample_rate`. `seed` (0 is a seed) fixes the
        prior sample: the same inputs and seed give the same samples."""
        tokens = torch.as_tensor(tokens, dtype=torch.long, device=self.device)
        if tokens.dim() == 1:
            tokens = tokens.unsqueeze(0)
        phones = torch.as_tensor(phone_ids, dtype=torch.long, device=self.device).reshape(1, -1)
        audio = self.generator.decode(tokens.unsqueeze(0), phones, reference_spec.to(self.device),
                                      noise_scale=noise_scale, seed=int(seed))
        return audio[0, 0].float().cpu().numpy()

    def reconstruct(self, path: str | Path) -> np.ndarray:
        """The clip at `path` rebuilt from its own posterior (`SoVITSGenerator.reconstruct`: no tokens,
        no prior, no noise), float32 samples at `sample_rate`: the decoder's ceiling for this clip."""
        audio = self.load_input(path)
        audio_out = self.generator.reconstruct(self.reference_spectrogram(audio.samples))
        return audio_out[0, 0].float().cpu().numpy()

    # ------------------------------------------------------------------ the whole chain
    def resynthesize(
        self,
        input_path: str | Path,
        text: str,
        language: str,
        reference_path: str | Path,
        *,
        noise_scale: float = 0.5,
        seed: int = 0,
    ) -> Resynthesis:
        """The input's semantic tokens and transcript, spoken in the reference's voice (see the module
        docstring). Every input is checked before the model runs."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        try:
            ids, phonemized = self.phone_ids(text, language)
        except ValueError as err:
            raise ResynthesisInputError(f"{input_path}: {err}") from err
        source = self.load_input(input_path)
        reference = self.load_reference(reference_path)
        content_audio = self.load_content_audio(input_path)
        timings["load_inputs"] = time.perf_counter() - start

        start = time.perf_counter()
        content = self.content_features(content_audio.samples)
        timings["content_features"] = time.perf_counter() - start
        start = time.perf_counter()
        tokens = self.tokens_from_content(content, self.frames_of(len(source.samples)))
        timings["tokens"] = time.perf_counter() - start

        start = time.perf_counter()
        spec = self.reference_spectrogram(reference.samples)
        audio = self.synthesize(tokens, ids, spec, noise_scale=noise_scale, seed=seed)
        timings["decode"] = time.perf_counter() - start
        content_notes = [f"{note} for the content features" for note in content_audio.notes
                         if note.startswith("resampled")]
        return Resynthesis(audio, self.sample_rate, tokens.cpu(), ids, phonemized, source, reference,
                           content_notes, timings)


def resynth(
    resynthesizer: SoVITSResynthesizer,
    input_path: str | Path,
    text: str,
    language: str,
    reference_path: str | Path,
    output_dir: str | Path,
    parameters: dict[str, Any],
    *,
    seed: int = 0,
    noise_scale: float = 0.5,
) -> Path:
    """Resynthesise one utterance into `output_dir/<input stem>.wav`; return the generation log's path
    (`output_dir/generation_log.json`). Nothing is written when an input is refused."""
    input_path, reference_path, output_dir = Path(input_path), Path(reference_path), Path(output_dir)
    for path, role in ((input_path, "input"), (reference_path, "reference")):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such {role} audio file")
    out = output_dir / f"{input_path.stem}.wav"
    if out.resolve() in (input_path.resolve(), reference_path.resolve()):
        raise ValueError(f"{out}: the output would overwrite an input; choose another output_dir")
    record = GenerationLog("resynth", parameters, seed)
    record.set_checkpoint(resynthesizer.source)
    result = resynthesizer.resynthesize(input_path, text, language, reference_path, noise_scale=noise_scale,
                                        seed=seed)
    for name, seconds in result.timings_sec.items():
        record.record["timings_sec"][name] = seconds

    with record.timed("write_outputs"):
        save_audio(out, result.audio, result.sample_rate)
    record.record["content_extractor"] = {
        "config": resynthesizer.content_extractor_config(),
        "settings": resynthesizer.content_extractor.settings(),
        "recorded_by_model": resynthesizer.content_record.get("settings") is not None,
    }
    record.record["noise_scale"] = noise_scale
    record.record["text"] = {
        "text": text,
        "language": language,
        "sentence_language": result.text.language,
        "normalized_text": result.text.normalized_text,
        "phones": result.text.phones,
        # The phones as the model's table names them, one per id (a published model's pinyin
        # syllables can have more phones than ours).
        "model_phones": [phone for word in resynthesizer.model_words(result.text) for phone in word.phones],
        "phone_ids": result.phone_ids,
        **resynthesizer.text_settings,
    }
    record.record["semantic_tokens"] = result.tokens.tolist()
    record.add_input(input_path, role="input", **audio_details(result.input, result.content_notes))
    record.add_input(reference_path, role="reference", **audio_details(result.reference))
    samples = len(result.audio)
    record.add_output(out, role="output", duration_sec=samples / result.sample_rate, num_samples=samples,
                      sample_rate=result.sample_rate, source=str(input_path))
    synthesis = sum(result.timings_sec[k] for k in ("content_features", "tokens", "decode"))
    record.record["real_time_factor"] = synthesis / (samples / result.sample_rate)
    return record.write(output_dir / "generation_log.json")
