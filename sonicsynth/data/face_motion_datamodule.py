"""Audio features and face-motion targets for the audio-to-blendshape predictor.

Reads an audio-visual manifest whose lines carry `extras.motion_path` (the exact targets of the
synthetic corpus, `sonicsynth.data.synthetic_av`, or targets derived from a real video) and
`extras.identity`. Each utterance's 16 kHz audio becomes `FaceAudioFeatures` (one vector per 25 fps
motion frame), cached in the feature cache by the audio's content hash and the feature settings,
so the features are computed once per recording and recomputed only when a setting changes.

Splits: the manifest's own `split` field (unseen sentences in val/test, see the demo corpus), and
`held_out_identities` are removed from training altogether, so that validation and test also
measure an identity (a voice and a face) the model never saw. Training items are random windows of
`window_frames` frames, drawn per (seed, epoch, item) so that a resumed run replays the same
batches; validation and test items are whole utterances. A batch is padded to its longest item and
carries a `mask` of real frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sonicsynth.audio import load_audio
from sonicsynth.data.feature_cache import AudioHashIndex, FeatureCache
from sonicsynth.data.manifest import Utterance, read_manifest
from sonicsynth.data.synthetic_av import load_motion
from sonicsynth.data.vocoder_datamodule import SeededEpochSampler, index_seed
from sonicsynth.models.face.audio_features import SAMPLE_RATE, FaceAudioFeatures

FEATURE_NAME = "face_audio"
MAX_LENGTH_MISMATCH_FRAMES = 5  # 0.2 s


@dataclass(frozen=True)
class MotionClip:
    id: str
    identity: str
    features: np.ndarray  # (T, feature dim)
    blendshapes: np.ndarray  # (T, 52)
    pose: np.ndarray  # (T, 6)


def load_clip(utterance: Utterance, manifest_dir: Path, features: FaceAudioFeatures,
              cache: FeatureCache | None, hashes: AudioHashIndex | None) -> MotionClip:
    if "motion_path" not in utterance.extras:
        raise ValueError(f"{manifest_dir}: utterance {utterance.id} has no extras.motion_path (face-motion targets)")
    motion = load_motion(manifest_dir / utterance.extras["motion_path"])
    audio_file = utterance.audio_file(manifest_dir)
    computed = None
    if cache is not None and hashes is not None:
        key = cache.write_settings_of(FEATURE_NAME, features.settings())
        digest = hashes.sha256(audio_file)
        if cache.has(key, digest):
            computed = cache.load(key, digest)["features"]
    if computed is None:
        computed = features(load_audio(audio_file, sample_rate=SAMPLE_RATE).samples)
        if cache is not None and hashes is not None:
            cache.save(key, digest, {"features": computed})
    # Real videos' audio and picture streams often end a few frames apart; more is a wrong pairing.
    if abs(len(computed) - motion.num_frames) > MAX_LENGTH_MISMATCH_FRAMES:
        raise ValueError(
            f"{audio_file}: {len(computed)} feature frames but its motion has {motion.num_frames} "
            "(audio and targets of different utterances?)"
        )
    frames = min(len(computed), motion.num_frames)
    return MotionClip(utterance.id, str(utterance.extras.get("identity", utterance.speaker)),
                      computed[:frames], motion.blendshapes[:frames], motion.pose[:frames])


class MotionDataset(Dataset):
    """Whole clips (`window_frames` None) or random windows of them."""

    def __init__(self, clips: list[MotionClip], identities: dict[str, int], window_frames: int | None = None) -> None:
        self.clips, self.identities, self.window_frames = clips, identities, window_frames

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor | str]:
        index, item_seed = key if isinstance(key, tuple) else (key, index_seed(key))
        clip = self.clips[index]
        start, stop = 0, len(clip.features)
        if self.window_frames is not None and stop > self.window_frames:
            start = int(np.random.default_rng(item_seed).integers(0, stop - self.window_frames + 1))
            stop = start + self.window_frames
        return {
            "id": clip.id,
            "identity": torch.tensor(self.identities.get(clip.identity, 0)),  # 0 = unknown identity
            "features": torch.from_numpy(clip.features[start:stop]),
            "blendshapes": torch.from_numpy(clip.blendshapes[start:stop]),
            "pose": torch.from_numpy(clip.pose[start:stop]),
        }


def collate_motion(items: list[dict]) -> dict:
    length = max(len(item["features"]) for item in items)

    def pad(name: str) -> torch.Tensor:
        return torch.stack([torch.nn.functional.pad(item[name], (0, 0, 0, length - len(item[name]))) for item in items])

    mask = torch.zeros(len(items), length, dtype=torch.bool)
    for row, item in enumerate(items):
        mask[row, : len(item["features"])] = True
    return {"ids": [item["id"] for item in items], "identity": torch.stack([item["identity"] for item in items]),
            "features": pad("features"), "blendshapes": pad("blendshapes"), "pose": pad("pose"), "mask": mask}


class FaceMotionDataModule(L.LightningDataModule):
    def __init__(
        self,
        manifest: str,
        features: FaceAudioFeatures | dict | None = None,
        cache_dir: str | None = None,
        held_out_identities: list[str] | tuple[str, ...] = (),
        window_frames: int = 100,
        batch_size: int = 16,
        items_per_epoch: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        """features: `FaceAudioFeatures` or its settings (configs pass the model's, `${model.features}`,
        so the settings live in one place); items_per_epoch: windows per epoch (default: one per
        training utterance)."""
        super().__init__()
        self.save_hyperparameters(ignore=["features"])
        self.features = features if isinstance(features, FaceAudioFeatures) else FaceAudioFeatures(**dict(features or {}))
        self.splits: dict[str, list[MotionClip]] = {}
        self.identities: dict[str, int] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        manifest = Path(hp.manifest)
        if not manifest.exists():
            raise FileNotFoundError(
                f"{manifest}: no such manifest; build the synthetic audio-visual corpus with "
                "`python scripts/build_synthetic_av.py` or point data.manifest at your own"
            )
        utterances = read_manifest(manifest)
        held_out = set(hp.held_out_identities)
        known = {str(u.extras.get("identity", u.speaker)) for u in utterances}
        unknown = held_out - known
        if unknown:
            raise ValueError(f"{manifest}: held_out_identities {sorted(unknown)} are not in the manifest "
                             f"(identities: {', '.join(sorted(known))})")
        cache = FeatureCache(hp.cache_dir) if hp.cache_dir else None
        hashes = AudioHashIndex(cache.root / "audio_hashes.json") if cache else None
        clips = {u.id: load_clip(u, manifest.parent, self.features, cache, hashes) for u in utterances}
        if hashes is not None:
            hashes.save()
        for split in ("train", "val", "test"):
            self.splits[split] = [clips[u.id] for u in utterances if u.split == split
                                  and not (split == "train" and str(u.extras.get("identity", u.speaker)) in held_out)]
        if not self.splits["train"] or not self.splits["val"]:
            raise ValueError(f"{manifest}: needs train and val utterances, got "
                             f"{len(self.splits['train'])} and {len(self.splits['val'])}")
        seen = sorted({clip.identity for clip in self.splits["train"]})
        self.identities = {name: index + 1 for index, name in enumerate(seen)}

    def train_dataloader(self) -> DataLoader:
        hp = self.hparams
        clips = self.splits["train"]
        if hp.items_per_epoch:  # cycle through the utterances, a fresh random window each time
            clips = [clips[i % len(clips)] for i in range(hp.items_per_epoch)]
        dataset = MotionDataset(clips, self.identities, hp.window_frames)
        return DataLoader(dataset, hp.batch_size, sampler=SeededEpochSampler(len(dataset), hp.seed),
                          collate_fn=collate_motion, num_workers=hp.num_workers, persistent_workers=hp.num_workers > 0)

    def _whole(self, split: str) -> DataLoader:
        return DataLoader(MotionDataset(self.splits[split], self.identities), self.hparams.batch_size,
                          collate_fn=collate_motion, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return self._whole("val")

    def test_dataloader(self) -> DataLoader:
        return self._whole("test")
