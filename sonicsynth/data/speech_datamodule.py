"""The speech DataModule shared by the voice models (and, through the same alignment and audio
features, the face side): manifest + text front end + feature cache -> padded batches.

Each item holds the utterance id, speaker index, phone ids with the number of phones of each word
(the word-to-phone map), and whichever of these the config asks for: the waveform at a given rate,
features from the cache (time last), and the phone timings of a forced alignment (TextGrid/JSON).
Text is phonemized once: the front end's output is kept in `phonemization_cache_dir`.

Filtering follows the few-shot voice recipes: utterances of 0.6-54 s and 3-25 phones per second
are kept; anything else, and every item the front end or the loader cannot use, is listed with its
reason in `<output_dir>/data_problems.json` (nothing is dropped silently). Datasets smaller than
`min_items_per_epoch` are repeated up to it, so a one-minute voice still makes useful epochs.
Batches are length-bucketed: shuffled, cut into pools, each pool sorted by duration and split into
batches, order seeded by (seed, epoch) so a resumed run sees the same batches.

`pair_share` joins that share of the training items to a second utterance of the same speaker (the
partner drawn per item from the seed): the semantic GPT then trains on what it meets at inference,
the phones of a reference and of new text with the reference's tokens already given, instead of only
ever starting an utterance from its first token.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, Sampler

import soundfile as sf

from sonicsynth.audio import load_audio, truncation_problem
from sonicsynth.data.feature_cache import AudioHashIndex, FeatureCache, feature_key
from sonicsynth.align.textgrid import load_alignment
from sonicsynth.data.manifest import Utterance, read_manifest
from sonicsynth.text.cache import PhonemizationCache
from sonicsynth.text.phone_tables import ids_in_table, words_in_table
from sonicsynth.text.phonemized import PhonemizedText, Word
from sonicsynth.text.published_symbols import PUBLISHED_V2_TABLE
from sonicsynth.text.punctuation import PUNCTUATION
from sonicsynth.text.symbols import SYMBOL_TABLE_VERSION
from sonicsynth.utils.atomic import atomic_write

log = logging.getLogger(__name__)


def model_phone_ids(
    text: PhonemizedText,
    acoustic_phones_only: bool = False,
    symbol_table: str = SYMBOL_TABLE_VERSION,
    model: str = "the model",
) -> tuple[list[int], list[int]]:
    """The phone ids a model reads for a phonemized sentence, and the number of phones of each word.

    The one text-to-ids step of training and inference alike. `acoustic_phones_only` leaves out the
    punctuation marks, which have no sound of their own (CTC targets); else they stay, as pauses.
    `symbol_table` is the table the model's phone embedding is indexed by (its text settings'
    "symbol_table_version": ours, or the published GPT-SoVITS v2 one); `model` names the model in the
    error for a phone that table has no counterpart for.
    """
    words = model_words(text, acoustic_phones_only, symbol_table, model)
    return ids_in_table(words, symbol_table), [len(w.phones) for w in words]


def model_words(
    text: PhonemizedText,
    acoustic_phones_only: bool = False,
    symbol_table: str = SYMBOL_TABLE_VERSION,
    model: str = "the model",
) -> list[Word]:
    """The words behind `model_phone_ids`' phones, in order (without punctuation marks when
    `acoustic_phones_only`), their phones named in `symbol_table`: what word-level features such as
    BERT's are aligned to (a table may give a word more phones than ours: pinyin "a1" is "AA a1")."""
    words = [w for w in text.words if not (acoustic_phones_only and w.phones[0] in PUNCTUATION)]
    return words_in_table(words, symbol_table, model)


def text_settings(
    frontend: dict, acoustic_phones_only: bool, symbol_table: str = SYMBOL_TABLE_VERSION
) -> dict[str, Any]:
    """What turns a model's text into its phone ids: the front end's config, whether punctuation is
    dropped, and the symbol table its ids index (our table's version, or another table's name, as
    `sonicsynth.text.phone_tables` lists them). Models record it so inference phonemizes as training did."""
    return {"frontend": frontend, "acoustic_phones_only": bool(acoustic_phones_only),
            "symbol_table_version": symbol_table}


# The front end of published GPT-SoVITS files (and of our models that recorded none): ours.
DEFAULT_TEXT_FRONTEND = {"_target_": "sonicsynth.text.TextFrontend"}


def published_v2_text_settings() -> dict[str, Any]:
    """The text settings of a published GPT-SoVITS v2 file (s1 GPT and s2 SoVITS alike): our front
    end, punctuation kept as pauses (as the reference keeps it), ids in the published v2 table."""
    return text_settings(DEFAULT_TEXT_FRONTEND, acoustic_phones_only=False, symbol_table=PUBLISHED_V2_TABLE)


@dataclass
class SpeechItem:
    utterance: Utterance
    audio_path: Path
    speaker_index: int
    phone_ids: list[int]
    word_phone_counts: list[int]
    audio_sha256: str | None = None
    words: tuple[str, ...] = ()  # the written words behind word_phone_counts


@dataclass(frozen=True)
class UtteranceFilter:
    min_seconds: float = 0.6
    max_seconds: float = 54.0
    min_phones_per_second: float = 3.0
    max_phones_per_second: float = 25.0

    def reason_to_drop(self, duration: float, num_phones: int) -> str | None:
        if duration < self.min_seconds:
            return f"too short: {duration:.2f} s < {self.min_seconds} s"
        if duration > self.max_seconds:
            return f"too long: {duration:.2f} s > {self.max_seconds} s"
        rate = num_phones / duration
        if not self.min_phones_per_second <= rate <= self.max_phones_per_second:
            return (f"implausible transcript for the audio: {rate:.1f} phones/s outside "
                    f"{self.min_phones_per_second}-{self.max_phones_per_second}")
        return None


class LengthBucketSampler(Sampler):
    """Batches of similar duration; order and content depend only on (seed, epoch)."""

    def __init__(self, durations: list[float], batch_size: int, seed: int, pool_batches: int = 50, drop_last: bool = False) -> None:
        self.durations, self.batch_size, self.seed = durations, batch_size, seed
        self.pool_size, self.drop_last, self.epoch = batch_size * pool_batches, drop_last, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng(self.seed * 1_000_003 + self.epoch)
        order = rng.permutation(len(self.durations))
        batches = []
        for start in range(0, len(order), self.pool_size):
            pool = sorted(order[start : start + self.pool_size], key=lambda i: self.durations[i])
            for b in range(0, len(pool), self.batch_size):
                batch = [int(i) for i in pool[b : b + self.batch_size]]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        rng.shuffle(batches)
        return batches

    def __iter__(self):
        yield from self._batches()

    def __len__(self) -> int:
        return len(self._batches())


class SpeechDataset(Dataset):
    """Items of the datamodule, repeated up to `repeat_to`. With `pair_share` > 0, that share of the
    items (drawn per index from `seed`) are two utterances of one speaker joined end to end: phones,
    words, audio and features concatenated, id "<first>+<second>" (see `SpeechDataModule`)."""

    def __init__(self, items: list[SpeechItem], sample_rate: int | None, cache: FeatureCache | None,
                 feature_keys: list[str], with_alignment: bool, manifest_dir: Path, repeat_to: int = 0,
                 pair_share: float = 0.0, seed: int = 0) -> None:
        self.items, self.sample_rate, self.cache, self.feature_keys = items, sample_rate, cache, feature_keys
        self.with_alignment, self.manifest_dir = with_alignment, manifest_dir
        self.length = max(len(items), repeat_to) if items else 0
        if not 0.0 <= pair_share <= 1.0:
            raise ValueError(f"pair_share must be in [0, 1], got {pair_share}")
        if pair_share and with_alignment:
            raise ValueError("joined utterance pairs have no alignment of their own: use pair_share with with_alignment off")
        by_speaker: dict[int, list[int]] = {}
        for position, item in enumerate(items):
            by_speaker.setdefault(item.speaker_index, []).append(position)
        self._partners = [self._choose_partner(i, by_speaker, pair_share, seed) for i in range(self.length)]

    def _choose_partner(self, index: int, by_speaker: dict[int, list[int]], share: float, seed: int) -> int | None:
        if not share:
            return None
        rng = np.random.default_rng([seed, index])
        others = [p for p in by_speaker[self.items[index % len(self.items)].speaker_index] if p != index % len(self.items)]
        if not others or rng.random() >= share:
            return None
        return others[int(rng.integers(len(others)))]

    def __len__(self) -> int:
        return self.length

    def duration(self, index: int) -> float:
        partner = self._partners[index]
        seconds = self.items[index % len(self.items)].utterance.duration
        return seconds + (self.items[partner].utterance.duration if partner is not None else 0.0)

    def __getitem__(self, index: int) -> dict[str, Any]:
        first = self._load(self.items[index % len(self.items)])
        partner = self._partners[index]
        if partner is None:
            return first
        second = self._load(self.items[partner])
        joined = {name: torch.cat([value, second[name]], dim=-1) for name, value in first.items()
                  if isinstance(value, torch.Tensor)}
        language = first["language"] if first["language"] == second["language"] else "mixed"
        return {**joined, "id": f"{first['id']}+{second['id']}", "speaker": first["speaker"],
                "words": first["words"] + second["words"], "language": language}

    def _load(self, item: SpeechItem) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": item.utterance.id,
            "speaker": item.speaker_index,
            "phones": torch.tensor(item.phone_ids, dtype=torch.long),
            "word_phone_counts": torch.tensor(item.word_phone_counts, dtype=torch.long),
            "words": list(item.words),
            "language": item.utterance.language,
        }
        if self.sample_rate is not None:
            out["audio"] = torch.from_numpy(load_audio(item.audio_path, self.sample_rate).samples)
        for key in self.feature_keys:
            for name, array in self.cache.load(key, item.audio_sha256).items():
                out[name] = torch.from_numpy(array)
        if self.with_alignment:
            alignment = load_alignment(item.utterance.alignment_file(self.manifest_dir))
            # (2, phones): start and end times, phones last like every other sequence.
            out["phone_spans"] = torch.tensor([[p.start for p in alignment.phones], [p.end for p in alignment.phones]])
        return out


def collate_speech(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad every tensor field along its last (time) axis and add `<field>_lengths`; other fields
    (ids, words, languages) become lists."""
    batch: dict[str, Any] = {"speaker": torch.tensor([it["speaker"] for it in items])}
    for name in items[0]:
        if name in batch:
            continue
        if not isinstance(items[0][name], torch.Tensor):
            batch[name] = [it[name] for it in items]
            continue
        tensors = [it[name] for it in items]
        lengths = torch.tensor([t.shape[-1] if t.dim() else 1 for t in tensors])
        if tensors[0].dim() <= 1:
            batch[name] = pad_sequence(tensors, batch_first=True)
        else:  # (channels, time): pad time after moving it first
            batch[name] = pad_sequence([t.transpose(0, -1) for t in tensors], batch_first=True).transpose(1, -1)
        batch[f"{name}_lengths"] = lengths
    return batch


class SpeechDataModule(L.LightningDataModule):
    def __init__(
        self,
        manifest: str,
        frontend: dict,
        output_dir: str,
        sample_rate: int | None = 16000,
        cache_dir: str | None = None,
        features: dict | None = None,
        with_alignment: bool = False,
        acoustic_phones_only: bool = False,
        phonemization_cache_dir: str | None = None,
        utterance_filter: dict | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
        min_items_per_epoch: int = 100,
        val_speakers: list[str] | None = None,
        pair_share: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.frontend = None
        self.phonemized: PhonemizationCache | None = None
        self.speakers: list[str] = []
        self.problems: list[dict[str, str]] = []
        self.train_set: SpeechDataset | None = None
        self.val_set: SpeechDataset | None = None
        # After setup: what produced each cached feature, by the name of its arrays' extractor
        # ({"config", "name", "settings"}), and what produced the phone ids (`text_settings`). Models
        # record the parts they read, so inference computes its inputs exactly as training did.
        self.feature_records: dict[str, dict[str, Any]] = {}
        self.text_settings: dict[str, Any] = text_settings(frontend, acoustic_phones_only)

    # ------------------------------------------------------------------ set-up
    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        hp = self.hparams
        manifest = Path(hp.manifest)
        utterances = read_manifest(manifest)
        self.frontend = instantiate(hp.frontend, _convert_="all")
        self.phonemized = (PhonemizationCache(hp.phonemization_cache_dir, self.frontend.languages)
                           if hp.phonemization_cache_dir else None)
        self.speakers = sorted({u.speaker for u in utterances})
        utterance_filter = UtteranceFilter(**(hp.utterance_filter or {}))
        cache = FeatureCache(hp.cache_dir) if hp.cache_dir else None
        configs = list((hp.features or {}).values())
        extractors = [instantiate(c, _convert_="all") for c in configs]
        keys = [feature_key(e) for e in extractors]
        self.feature_records = {e.name: {"config": dict(c), "name": e.name, "settings": e.settings()}
                                for c, e in zip(configs, extractors)}
        if keys and cache is None:
            raise ValueError("features were requested but no cache_dir was given")
        hashes = AudioHashIndex(Path(hp.cache_dir) / "audio_hashes.json") if cache else None

        items: list[SpeechItem] = []
        for utterance in utterances:
            item = self._make_item(utterance, manifest.parent, utterance_filter, cache, keys, hashes)
            if item is not None:
                items.append(item)
        self._write_problems(len(utterances), len(items))
        if self.phonemized is not None:
            self.phonemized.save()

        held_out = set(hp.val_speakers or [])
        if held_out:
            train = [i for i in items if i.utterance.speaker not in held_out]
            val = [i for i in items if i.utterance.speaker in held_out]
        else:
            train = [i for i in items if i.utterance.split == "train"]
            val = [i for i in items if i.utterance.split == "val"]
        if not train:
            raise ValueError(f"{manifest}: no usable training utterances (see {self.problems_path})")
        common = dict(sample_rate=hp.sample_rate, cache=cache, feature_keys=keys, with_alignment=hp.with_alignment,
                      manifest_dir=manifest.parent)
        self.train_set = SpeechDataset(train, repeat_to=hp.min_items_per_epoch, pair_share=hp.pair_share, seed=hp.seed,
                                       **common)
        self.val_set = SpeechDataset(val, **common)

    def _make_item(self, utterance, manifest_dir, utterance_filter, cache, keys, hashes) -> SpeechItem | None:
        audio = utterance.audio_file(manifest_dir)

        def drop(reason: str) -> None:
            self.problems.append({"id": utterance.id, "path": str(audio), "reason": reason})

        if not audio.is_file():
            return drop("missing audio file")
        try:
            sf.info(str(audio))
        except (sf.LibsndfileError, RuntimeError) as err:
            return drop(f"corrupt or unreadable audio: {err}")
        truncated = truncation_problem(audio)
        if truncated:
            return drop(truncated)
        if not utterance.text.strip():
            return drop("empty text")
        try:
            text = self._phonemize(utterance.text, utterance.language)
        except (ValueError, KeyError) as err:
            return drop(f"text front end: {err}")
        reason = utterance_filter.reason_to_drop(utterance.duration, len(text.phones))
        if reason:
            return drop(reason)
        if self.hparams.with_alignment and utterance.alignment_path is None:
            return drop("no alignment for this utterance")
        sha = None
        if keys:
            try:
                sha = hashes.sha256(audio)
            except OSError as err:
                return drop(f"unreadable audio: {err}")
            missing = [k for k in keys if not cache.has(k, sha)]
            if missing:
                return drop(f"features not prepared: {', '.join(missing)}")
        ids, word_phone_counts = model_phone_ids(text, self.hparams.acoustic_phones_only)
        words = tuple(w.text for w in model_words(text, self.hparams.acoustic_phones_only))
        return SpeechItem(utterance, audio, self.speakers.index(utterance.speaker), ids, word_phone_counts, sha, words)

    def _phonemize(self, text: str, language: str) -> PhonemizedText:
        cached = self.phonemized.get(text, language) if self.phonemized is not None else None
        if cached is not None:
            return cached
        result = self.frontend.process(text, language)
        if self.phonemized is not None:
            self.phonemized.put(text, language, result)
        return result

    @property
    def problems_path(self) -> Path:
        return Path(self.hparams.output_dir) / "data_problems.json"

    def _write_problems(self, total: int, kept: int) -> None:
        report = {"manifest": self.hparams.manifest, "utterances": total, "kept": kept, "problems": self.problems}
        with atomic_write(self.problems_path, "w") as f:
            json.dump(report, f, indent=2)
        if self.problems:
            log.warning("%d of %d utterances left out; reasons in %s", len(self.problems), total, self.problems_path)

    # ------------------------------------------------------------- dataloaders
    def _loader(self, dataset: SpeechDataset, shuffle: bool) -> DataLoader:
        durations = [dataset.duration(i) for i in range(len(dataset))]
        if shuffle:
            sampler = LengthBucketSampler(durations, self.hparams.batch_size, self.hparams.seed)
        else:  # validation: fixed order, still bucketed by length
            order = sorted(range(len(dataset)), key=durations.__getitem__)
            sampler = [order[i : i + self.hparams.batch_size] for i in range(0, len(order), self.hparams.batch_size)]
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_speech, num_workers=self.hparams.num_workers,
                          persistent_workers=self.hparams.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
