"""Text-to-speech in a cloned voice: text + a reference clip -> speech (`python infer.py task=tts ...`).

    text          --split_for_synthesis--> pieces, each spoken on its own (see sonicsynth.text.chunking)
    reference wav --SoVITS content + quantizer--> the reference's semantic tokens (the GPT's prompt)
    reference text + piece --text front end--> phone ids (the reference's first: the prompt's phones)
    [phones ; reference tokens] --GPT decode (sampling settings, seed)--> the piece's semantic tokens
    piece tokens + piece phones + reference spectrogram --SoVITS decode--> the piece's audio
    pieces --joined with `pause_sec` of silence--> the output wav

Without a reference transcript (`ref_text=None`, "reference-free") the GPT starts from the piece's
phones alone, with no token prompt; the voice then comes only from SoVITS's timbre conditioning.
A GPT trained with BERT features (`sonicsynth.text.bert_features`) gets them for the reference's and
the piece's phones from the same local model directory.

As GPT-SoVITS does, the reference transcript gets a full stop when it ends without a mark (the prompt
then ends at a sentence boundary, not mid-phrase), and the reference's tokens are extracted with
`REFERENCE_TAIL_SEC` of silence after it, so the prompt ends in silence rather than mid-sound.

Each piece draws from its own seed (the run's seed and the piece's index), so streaming
(`TextToSpeech.stream`, one piece at a time) gives exactly the audio of `speak`, and the same seed
gives the same audio (0 is a seed). The GPT and SoVITS must belong together: the GPT records the
SoVITS model whose tokens it was trained on (compatibility id and token-weight hash) and the phone
ids it read; another SoVITS, or other phone ids, are refused before anything runs. Both models'
phone ids come from one function (`model_phone_ids`, through the SoVITS side), in the symbol table
the two record: ours, or for published GPT-SoVITS files the published v2 table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate

from sonicsynth.audio import LoadedAudio, save_audio
from sonicsynth.data.semantic_tokens import require_token_source
from sonicsynth.export.package import CompatibilityError
from sonicsynth.models.gpt.decoding import SamplingSettings, decode
from sonicsynth.models.gpt.loading import load_gpt
from sonicsynth.models.gpt.model import SemanticGPT
from sonicsynth.pipelines.generation_log import GenerationLog
from sonicsynth.pipelines.resynth import (
    MIN_SPEECH_LEVEL_DB,
    ResynthesisInputError,
    SoVITSResynthesizer,
    audio_details,
)
from sonicsynth.text.chunking import split_for_synthesis
from sonicsynth.text.phone_tables import SYMBOL_TABLE_SIZES
from sonicsynth.text.punctuation import PUNCTUATION
from sonicsynth.utils.seeding import step_seed

log = logging.getLogger(__name__)

# Silence after the reference before its tokens are taken (GPT-SoVITS appends 0.3 s).
REFERENCE_TAIL_SEC = 0.3
# Most seconds of speech one piece may become: decoding stops there (a model that never says
# end-of-speech must not run for ever). With the default 200-character pieces, ample.
MAX_PIECE_SEC = 30.0


class TTSInputError(ResynthesisInputError):
    """A text or reference the TTS pipeline cannot use; the message names the input and the problem."""


@dataclass
class Reference:
    """A reference clip ready to prompt with: its audio, timbre spectrogram, tokens and phones."""

    audio: LoadedAudio  # at the SoVITS rate
    spectrogram: torch.Tensor  # (1, bins, frames)
    tokens: torch.Tensor  # (tokens,) int64, empty without a transcript
    phone_ids: list[int]  # empty without a transcript
    text: str | None
    content_notes: list[str] = field(default_factory=list)
    bert: np.ndarray | None = None  # (bert_dim, phones) when the GPT reads BERT features


@dataclass
class SpokenPiece:
    """One piece of the text, spoken."""

    index: int
    text: str
    phone_ids: list[int]
    tokens: torch.Tensor  # (tokens,) int64 generated semantic tokens
    stopped_at_eos: bool
    audio: np.ndarray  # (samples,) float32
    seconds: dict[str, float]  # "gpt", "sovits"
    ready_after_sec: float | None = None  # from the start of synthesis (set by `TextToSpeech.speak`)


@dataclass
class Speech:
    """The whole text, spoken."""

    audio: np.ndarray
    sample_rate: int
    pieces: list[SpokenPiece]
    reference: Reference
    seconds: dict[str, float]


class TextToSpeech:
    """A semantic GPT and the SoVITS model whose tokens it speaks in; see the module docstring.

    sampling: the GPT's sampling settings (top_k / top_p / temperature / repetition_penalty /
    min_new_tokens; max_new_tokens is set per piece from `max_piece_sec`). noise_scale: SoVITS's
    prior noise. pause_sec: silence between pieces.
    """

    def __init__(
        self,
        gpt: SemanticGPT,
        gpt_info: dict[str, Any],
        sovits: SoVITSResynthesizer,
        *,
        sampling: SamplingSettings | None = None,
        noise_scale: float = 0.5,
        pause_sec: float = 0.3,
        max_piece_chars: int = 200,
        max_piece_sec: float = MAX_PIECE_SEC,
    ) -> None:
        self.gpt = gpt.eval().to(sovits.device)
        self.gpt_info = gpt_info
        self.sovits = sovits
        self.sampling = sampling or SamplingSettings()
        self.noise_scale, self.pause_sec = noise_scale, pause_sec
        self.max_piece_chars, self.max_piece_sec = max_piece_chars, max_piece_sec
        self._check_pairing()
        # The BERT features the GPT was trained with (a local model directory), or None for zeros.
        bert = gpt_info.get("bert")
        self.bert = instantiate(bert, _convert_="all").to(sovits.device) if bert else None

    @classmethod
    def load(cls, gpt_path: str | Path, sovits_path: str | Path, *, content: dict[str, Any] | None = None,
             trust: bool = False, device: str = "cpu", reference_min_sec: float | None = 3.0,
             reference_max_sec: float | None = 10.0, min_speech_level_db: float | None = MIN_SPEECH_LEVEL_DB,
             **kwargs: Any) -> "TextToSpeech":
        """From the GPT (`load_gpt`: package, training .ckpt or published s1 file) and the SoVITS model
        (`load_sovits`) it was trained with; the reference checks as in `SoVITSResynthesizer`."""
        gpt, info = load_gpt(gpt_path, trust=trust)
        sovits = SoVITSResynthesizer.load(sovits_path, content=content, trust=trust, device=device,
                                          reference_min_sec=reference_min_sec, reference_max_sec=reference_max_sec,
                                          min_speech_level_db=min_speech_level_db)
        return cls(gpt, info, sovits, **kwargs)

    @property
    def gpt_path(self) -> str:
        return self.gpt_info["source"]["path"]

    def _check_pairing(self) -> None:
        """Refuse a SoVITS whose tokens or phone ids are not those the GPT was trained on."""
        gpt_id = self.gpt_info["source"].get("compatibility_id")
        sovits_id = self.sovits.source.get("compatibility_id")
        if gpt_id and sovits_id and gpt_id != sovits_id:
            raise CompatibilityError(
                f"the GPT {self.gpt_path} has compatibility id {gpt_id!r}, the SoVITS model "
                f"{self.sovits.checkpoint_path} has {sovits_id!r}: they were not trained together, so the GPT's "
                "semantic tokens would mean other sounds to this SoVITS"
            )
        token_source = self.gpt_info.get("token_source")
        if token_source and token_source.get("settings"):
            require_token_source(token_source["settings"], self.sovits, f"the training tokens of the GPT {self.gpt_path}")
        if self.gpt.codebook_size != self.sovits.generator.codebook_size:
            raise CompatibilityError(
                f"the GPT {self.gpt_path} predicts {self.gpt.codebook_size} codes, the SoVITS model "
                f"{self.sovits.checkpoint_path} has a codebook of {self.sovits.generator.codebook_size}"
            )
        text_settings = self.gpt_info.get("text_settings")
        gpt_table = (text_settings or {}).get("symbol_table_version")
        if gpt_table and gpt_table != self.sovits.symbol_table:
            raise CompatibilityError(
                f"the GPT {self.gpt_path} reads phone ids of symbol table {gpt_table!r}, the SoVITS model "
                f"{self.sovits.checkpoint_path} those of {self.sovits.symbol_table!r}: the same ids would name other "
                "phones to the two (a published GPT-SoVITS file pairs only with a published file of the same version)"
            )
        table = self.sovits.symbol_table
        if SYMBOL_TABLE_SIZES[table] > self.gpt.phone_vocab_size:
            raise CompatibilityError(
                f"the GPT {self.gpt_path} has a phone table of {self.gpt.phone_vocab_size} rows, fewer than the "
                f"{SYMBOL_TABLE_SIZES[table]} symbols of the table its phone ids come from ({table!r})"
            )
        if text_settings and text_settings != self.sovits.text_settings:
            raise CompatibilityError(
                f"the GPT {self.gpt_path} was trained on phone ids made with {text_settings}, the SoVITS model "
                f"{self.sovits.checkpoint_path} reads {self.sovits.text_settings}"
            )

    # ------------------------------------------------------------------ inputs
    def phone_ids(self, text: str, language: str, role: str) -> tuple[list[int], np.ndarray | None]:
        """A text's phone ids (the SoVITS model's front end and symbol table, which the GPT's phone
        ids match) and, when the GPT reads them, their BERT features (bert_dim, phones)."""
        try:
            ids, phonemized = self.sovits.phone_ids(text, language)
        except ValueError as err:  # empty, unknown language, nothing speakable, a phone outside the table
            raise TTSInputError(f"the {role} {text!r}: {err}") from err
        if max(ids) >= self.gpt.phone_vocab_size:
            raise CompatibilityError(
                f"phone id {max(ids)} of the {role} is outside the GPT's phone table ({self.gpt.phone_vocab_size}): "
                f"{self.gpt_path} was trained on another symbol table"
            )
        if self.bert is None:
            return ids, None
        words = self.sovits.model_words(phonemized)
        return ids, self.bert([w.text for w in words], [len(w.phones) for w in words], phonemized.language)

    def prepare_reference(self, path: str | Path, text: str | None, language: str) -> Reference:
        """The reference clip, checked (3-10 s, speech) and turned into a prompt."""
        audio = self.sovits.load_reference(path)
        spectrogram = self.sovits.reference_spectrogram(audio.samples)
        if text is None:
            return Reference(audio, spectrogram, torch.zeros(0, dtype=torch.long), [], None)
        text = text.strip()
        if text and text[-1] not in PUNCTUATION and not text.endswith(tuple("。？！；，")):
            text += "."
        phone_ids, bert = self.phone_ids(text, language, "reference transcript")
        content_audio = self.sovits.load_content_audio(path)
        tail = np.zeros(round(REFERENCE_TAIL_SEC * content_audio.sample_rate), dtype=np.float32)
        content = self.sovits.content_features(np.concatenate([content_audio.samples, tail]))
        tail_samples = round(REFERENCE_TAIL_SEC * self.sovits.sample_rate)
        tokens = self.sovits.tokens_from_content(content, self.sovits.frames_of(len(audio.samples) + tail_samples))
        notes = [f"{note} for the content features" for note in content_audio.notes if note.startswith("resampled")]
        return Reference(audio, spectrogram, tokens[0].cpu(), phone_ids, text, notes, bert)

    def pieces(self, text: str) -> list[str]:
        if not isinstance(text, str) or not text.strip():
            raise TTSInputError(f"the text to speak is empty ({text!r})")
        return split_for_synthesis(text, max_chars=self.max_piece_chars)

    # ------------------------------------------------------------------ speaking
    def speak_piece(self, index: int, text: str, phone_ids: list[int], reference: Reference, seed: int,
                    bert: np.ndarray | None = None) -> SpokenPiece:
        """One piece: GPT tokens from [reference phones + piece phones ; reference tokens] (and their
        BERT features, when the GPT reads them), then SoVITS."""
        device = self.sovits.device
        prompt_phones = torch.tensor([reference.phone_ids + phone_ids], dtype=torch.long, device=device)
        prompt_bert = None
        if bert is not None:
            parts = [reference.bert, bert] if reference.bert is not None else [bert]
            prompt_bert = torch.from_numpy(np.concatenate(parts, axis=1)).unsqueeze(0).to(device)
        prompt_tokens = reference.tokens.reshape(1, -1).to(device)
        token_hz = self.sovits.sample_rate / self.sovits.samples_per_token
        settings = replace(self.sampling, max_new_tokens=max(1, round(self.max_piece_sec * token_hz)))
        start = time.perf_counter()
        with torch.inference_mode():
            result = decode(
                self.gpt, prompt_phones, torch.tensor([prompt_phones.shape[1]], device=device),
                prompt_tokens, torch.tensor([prompt_tokens.shape[1]], device=device), prompt_bert, settings,
                seed=step_seed(seed, index, 0),
            )
        gpt_seconds = time.perf_counter() - start
        tokens = result.sequences()[0].cpu()
        stopped = bool(result.stopped_at_eos[0])
        if not stopped:
            log.warning("text piece %d (%r) reached %d tokens without end-of-speech", index, text,
                        settings.max_new_tokens)
        start = time.perf_counter()
        if len(tokens):
            audio = self.sovits.synthesize(tokens, phone_ids, reference.spectrogram, noise_scale=self.noise_scale,
                                           seed=step_seed(seed, index, 1))
        else:  # end-of-speech straight away: nothing to decode
            audio = np.zeros(0, dtype=np.float32)
        return SpokenPiece(index, text, phone_ids, tokens, stopped, audio,
                           {"gpt": gpt_seconds, "sovits": time.perf_counter() - start})

    def plan(self, text: str, language: str) -> list[tuple[str, list[int], np.ndarray | None]]:
        """The pieces of `text` with their phone ids (and BERT features): every piece checked before
        any is spoken."""
        return [(piece, *self.phone_ids(piece, language, f"text {piece!r}")) for piece in self.pieces(text)]

    def stream(self, text: str, language: str, reference: Reference, seed: int = 0) -> Iterator[SpokenPiece]:
        """The pieces of `text` one by one, each as soon as it is spoken (the same audio as `speak`)."""
        for index, (piece, phone_ids, bert) in enumerate(self.plan(text, language)):
            yield self.speak_piece(index, piece, phone_ids, reference, seed, bert)

    def speak(self, text: str, language: str, reference_path: str | Path, reference_text: str | None = None,
              reference_language: str | None = None, seed: int = 0,
              on_piece: Callable[[SpokenPiece], None] | None = None) -> Speech:
        """The whole text in the reference's voice. Every input (text pieces, reference clip and
        transcript) is checked before the models run; `on_piece` sees each piece as it is spoken."""
        plan = self.plan(text, language)
        start = time.perf_counter()
        reference = self.prepare_reference(reference_path, reference_text, reference_language or language)
        seconds = {"reference": time.perf_counter() - start}
        start = time.perf_counter()
        spoken = []
        for index, (piece_text, phone_ids, bert) in enumerate(plan):
            piece = self.speak_piece(index, piece_text, phone_ids, reference, seed, bert)
            piece.ready_after_sec = time.perf_counter() - start
            spoken.append(piece)
            if on_piece is not None:
                on_piece(piece)
        seconds["synthesis"] = time.perf_counter() - start
        return Speech(self.join(spoken), self.sovits.sample_rate, spoken, reference, seconds)

    def join(self, pieces: list[SpokenPiece]) -> np.ndarray:
        """The pieces' audio with `pause_sec` of silence between them."""
        pause = np.zeros(round(self.pause_sec * self.sovits.sample_rate), dtype=np.float32)
        parts: list[np.ndarray] = []
        for i, piece in enumerate(pieces):
            parts.extend([pause, piece.audio] if i else [piece.audio])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def tts(
    speaker: TextToSpeech,
    text: str,
    language: str,
    reference_path: str | Path,
    output_dir: str | Path,
    parameters: dict[str, Any],
    *,
    reference_text: str | None = None,
    reference_language: str | None = None,
    seed: int = 0,
    stream: bool = False,
    output_name: str = "tts",
) -> Path:
    """Speak `text` into `output_dir/<output_name>.wav` (with `stream`, also each piece as
    `<output_name>_piece<k>.wav` the moment it is spoken); return the generation log's path
    (`output_dir/generation_log.json`). Nothing is written when an input is refused."""
    reference_path, output_dir = Path(reference_path), Path(output_dir)
    if not reference_path.is_file():
        raise FileNotFoundError(f"{reference_path}: no such reference audio file")
    rate = speaker.sovits.sample_rate
    record = GenerationLog("tts", parameters, seed)
    record.set_checkpoint({"gpt": speaker.gpt_info["source"], "sovits": speaker.sovits.source})

    def write_piece(piece: SpokenPiece) -> None:
        if stream:
            path = save_audio(output_dir / f"{output_name}_piece{piece.index}.wav", piece.audio, rate)
            record.add_output(path, role="piece", index=piece.index, num_samples=len(piece.audio), sample_rate=rate)

    speech = speaker.speak(text, language, reference_path, reference_text, reference_language, seed, write_piece)
    record.record["timings_sec"].update(speech.seconds)
    with record.timed("write_outputs"):
        out = save_audio(output_dir / f"{output_name}.wav", speech.audio, rate)
    reference = speech.reference
    record.add_input(reference_path, role="reference", **audio_details(reference.audio, reference.content_notes))
    record.add_output(out, role="output", duration_sec=len(speech.audio) / rate, num_samples=len(speech.audio),
                      sample_rate=rate)
    record.record["text"] = {"text": text, "language": language, "pieces": [p.text for p in speech.pieces],
                             "reference_text": reference.text, "reference_free": reference.text is None,
                             **speaker.sovits.text_settings}
    record.record["sampling"] = {**vars(speaker.sampling), "noise_scale": speaker.noise_scale,
                                 "pause_sec": speaker.pause_sec, "max_piece_sec": speaker.max_piece_sec}
    record.record["reference_tokens"] = reference.tokens.tolist()
    record.record["pieces"] = [
        {"index": p.index, "text": p.text, "phone_ids": p.phone_ids, "semantic_tokens": p.tokens.tolist(),
         "stopped_at_eos": p.stopped_at_eos, "num_samples": len(p.audio), "seconds": p.seconds,
         "ready_after_sec": p.ready_after_sec}
        for p in speech.pieces
    ]
    record.record["real_time_factor"] = speech.seconds["synthesis"] / max(len(speech.audio) / rate, 1e-9)
    return record.write(output_dir / "generation_log.json")
