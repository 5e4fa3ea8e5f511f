"""Waveform data for vocoder training: random fixed-length segments for training, whole
(length-capped) utterances for validation.

Order and crops come from a generator seeded by (seed, epoch) through `SeededEpochSampler`, which
Lightning tells the epoch before each one. An epoch is therefore a function of the seed alone, and a
run resumed from an end-of-epoch checkpoint replays exactly the batches the uninterrupted run saw.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from sonicsynth.audio import load_audio
from sonicsynth.data.manifest import Utterance, read_manifest


class SeededEpochSampler(Sampler):
    """Yields (index, item_seed) pairs; the permutation and the seeds depend only on (seed, epoch)."""

    def __init__(self, num_items: int, seed: int, shuffle: bool = True) -> None:
        self.num_items, self.seed, self.shuffle = num_items, seed, shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_items

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.num_items, generator=generator) if self.shuffle else torch.arange(self.num_items)
        item_seeds = torch.randint(0, 2**31 - 1, (self.num_items,), generator=generator)
        yield from zip(order.tolist(), item_seeds.tolist())


class AudioClipDataset(Dataset):
    """Audio files resampled to one rate and peak-normalised, cut to segments or to whole hops.

    With `segment_size` each item is a random `segment_size`-sample crop (zero-padded when the clip
    is shorter); without it, the clip's first `max_seconds`, trimmed to a multiple of `hop_length`.
    """

    def __init__(
        self,
        files: list[Path],
        sample_rate: int,
        hop_length: int,
        segment_size: int | None = None,
        max_seconds: float | None = None,
        peak_level: float | None = 0.95,
        cache: bool = True,
    ) -> None:
        if segment_size is not None and segment_size % hop_length:
            raise ValueError(f"segment_size {segment_size} must be a multiple of hop_length {hop_length}")
        self.files, self.sample_rate, self.hop_length = files, sample_rate, hop_length
        self.segment_size, self.max_seconds, self.peak_level = segment_size, max_seconds, peak_level
        self._cache: dict[int, np.ndarray] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, index: int) -> np.ndarray:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        wav = load_audio(self.files[index], self.sample_rate).samples
        if self.peak_level is not None:
            peak = float(np.abs(wav).max())
            if peak > 0:
                wav = wav * (self.peak_level / peak)
        if self._cache is not None:
            self._cache[index] = wav
        return wav

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, item_seed = key if isinstance(key, tuple) else (key, index_seed(key))
        wav = self._load(index)
        if self.segment_size is not None:
            if len(wav) >= self.segment_size:
                start = np.random.default_rng(item_seed).integers(0, len(wav) - self.segment_size + 1)
                wav = wav[start : start + self.segment_size]
            else:
                wav = np.pad(wav, (0, self.segment_size - len(wav)))
        else:
            if self.max_seconds is not None:
                wav = wav[: int(self.max_seconds * self.sample_rate)]
            wav = wav[: len(wav) // self.hop_length * self.hop_length]
        return {"audio": torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)), "index": index}


def make_loader(dataset: Dataset, batch_size: int, num_workers: int, sampler: Sampler | None = None,
                drop_last: bool = False) -> DataLoader:
    """The DataLoader settings every datamodule here uses."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        # Persistent workers keep their per-worker caches (decoded audio, clips) between epochs.
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),
        drop_last=drop_last,
    )


def index_seed(index: int) -> int:
    """A fixed seed per item for access without the sampler (validation, ad-hoc use)."""
    return index * 7919 + 17


class VocoderDataModule(L.LightningDataModule):
    """Reads a manifest (see `sonicsynth.data.manifest`) and serves its train and validation splits."""

    def __init__(
        self,
        manifest: str,
        sample_rate: int = 22050,
        hop_length: int = 256,
        segment_size: int = 8192,
        batch_size: int = 16,
        num_workers: int = 0,
        val_max_seconds: float | None = 4.0,
        max_val_items: int | None = 16,
        seed: int = 0,
        peak_level: float | None = 0.95,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train_set: AudioClipDataset | None = None
        self.val_set: AudioClipDataset | None = None

    def _split_files(self, utterances: list[Utterance], split: str) -> list[Path]:
        manifest = Path(self.hparams.manifest)
        files = [u.audio_file(manifest.parent) for u in utterances if u.split == split]
        if not files:
            raise ValueError(f"{manifest}: no utterances in split {split!r}")
        return files

    def _read_manifest(self) -> list[Utterance]:
        manifest = Path(self.hparams.manifest)
        if not manifest.exists():
            raise FileNotFoundError(
                f"{manifest}: no such manifest; build the demo corpus with `python scripts/build_demo_corpus.py` "
                "or point data.manifest at your own"
            )
        return read_manifest(manifest)

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        if self.train_set is not None and self.val_set is not None:
            return
        utterances = self._read_manifest()
        if self.train_set is None and stage in (None, "fit"):
            self.train_set = AudioClipDataset(
                self._split_files(utterances, "train"), hp.sample_rate, hp.hop_length, hp.segment_size, peak_level=hp.peak_level
            )
        if self.val_set is None and stage in (None, "fit", "validate"):
            files = self._split_files(utterances, "val")[: hp.max_val_items]
            self.val_set = AudioClipDataset(
                files, hp.sample_rate, hp.hop_length, max_seconds=hp.val_max_seconds, peak_level=hp.peak_level
            )

    def train_dataloader(self) -> DataLoader:
        sampler = SeededEpochSampler(len(self.train_set), self.hparams.seed)
        batch_size = min(self.hparams.batch_size, len(self.train_set))
        return make_loader(self.train_set, batch_size, self.hparams.num_workers, sampler, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return make_loader(self.val_set, 1, self.hparams.num_workers)
