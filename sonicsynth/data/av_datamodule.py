"""Audio-visual windows for SyncNet training, read from a manifest whose lines have `video_path`.

Every video is decoded once, as the lip-sync evaluation reads it (`sonicsynth.metrics.lip_sync`):
frames at 25 fps, face-centred and resized to 224 x 224 (the LRS-style crop path), audio at 16 kHz
turned into SyncNet's 13 MFCCs at 100 Hz. Frames are kept JPEG-encoded in memory (as syncnet_python
keeps them on disk), so a few minutes of video cost tens of megabytes, not gigabytes.

An item is a 5-frame video window starting at frame t and the audio windows starting at video frame
t + o for every offset o in [-max_offset, +max_offset]; `target` is the index of o = 0. Training
items draw (video, t) from a generator seeded by (seed, epoch, item) (`SeededEpochSampler`), so a
resumed run replays the same batches; validation uses fixed windows every `val_stride` frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sonicsynth.data.manifest import Utterance, read_manifest
from sonicsynth.data.vocoder_datamodule import SeededEpochSampler, index_seed, make_loader
from sonicsynth.models.syncnet.network import AUDIO_WINDOW_FRAMES, VIDEO_WINDOW_FRAMES

MFCC_FRAMES_PER_VIDEO_FRAME = 4  # 100 Hz MFCCs against 25 fps video


@dataclass(frozen=True)
class SyncClip:
    """One decoded video: JPEG frames (BGR, 224 x 224) and its (13, N) MFCCs."""

    id: str
    frames: tuple[bytes, ...]
    mfcc: np.ndarray

    @property
    def usable_frames(self) -> int:
        """Video frames that have both a picture and a full audio window, as the evaluation counts them."""
        audio_frames = (self.mfcc.shape[1] - AUDIO_WINDOW_FRAMES) // MFCC_FRAMES_PER_VIDEO_FRAME + 1
        return min(len(self.frames) - VIDEO_WINDOW_FRAMES + 1, audio_frames)

    def window_starts(self, max_offset: int) -> range:
        """Starts t whose audio windows t - max_offset .. t + max_offset all exist."""
        return range(max_offset, self.usable_frames - max_offset)


def decode_clip(video: Path, clip_id: str) -> SyncClip:
    from sonicsynth.metrics.lip_sync import read_face_centred_video, syncnet_mfcc

    frames, audio = read_face_centred_video(video)
    encoded = tuple(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for frame in frames)
    return SyncClip(clip_id, encoded, syncnet_mfcc(audio).astype(np.float32))


class SyncWindowDataset(Dataset):
    def __init__(self, clips: list[SyncClip], max_offset: int, windows: list[tuple[int, int]] | None = None, items: int = 0):
        """`windows` (clip index, start) fixes the items (validation); otherwise `items` random windows per epoch."""
        self.clips, self.max_offset, self.windows, self.items = clips, max_offset, windows, items
        self.offsets = np.arange(-max_offset, max_offset + 1)

    def __len__(self) -> int:
        return len(self.windows) if self.windows is not None else self.items

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        if self.windows is not None:
            clip_index, start = self.windows[key]
        else:
            index, item_seed = key if isinstance(key, tuple) else (key, index_seed(key))
            rng = np.random.default_rng(item_seed)
            clip_index = index % len(self.clips)
            starts = self.clips[clip_index].window_starts(self.max_offset)
            start = int(rng.integers(starts.start, starts.stop))
        clip = self.clips[clip_index]
        frames = [cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR) for f in clip.frames[start : start + VIDEO_WINDOW_FRAMES]]
        video = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2).float()  # (3, 5, 224, 224), 0-255 BGR
        mfcc_starts = (start + self.offsets) * MFCC_FRAMES_PER_VIDEO_FRAME
        audio = np.stack([clip.mfcc[:, s : s + AUDIO_WINDOW_FRAMES] for s in mfcc_starts])[:, None]
        return {"video": video, "audio": torch.from_numpy(audio), "target": torch.tensor(self.max_offset)}


class SyncNetDataModule(L.LightningDataModule):
    """Train and validation splits of an audio-visual manifest as SyncNet windows."""

    def __init__(
        self,
        manifest: str,
        max_offset: int = 15,
        batch_size: int = 16,
        items_per_epoch: int = 1024,
        val_stride: int = 10,
        max_val_windows: int | None = 256,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train_set: SyncWindowDataset | None = None
        self.val_set: SyncWindowDataset | None = None

    def _clips(self, utterances: list[Utterance], split: str) -> list[SyncClip]:
        manifest = Path(self.hparams.manifest)
        selected = [u for u in utterances if u.split == split]
        if not selected:
            raise ValueError(f"{manifest}: no utterances in split {split!r}")
        missing_video = [u.id for u in selected if u.video_path is None]
        if missing_video:
            raise ValueError(f"{manifest}: {len(missing_video)} {split} utterances have no video_path (first: {missing_video[0]})")
        clips = [decode_clip(u.video_file(manifest.parent), u.id) for u in selected]
        too_short = [c.id for c in clips if len(c.window_starts(self.hparams.max_offset)) == 0]
        if too_short:
            # Windows need 2 x max_offset + 5 frames of video and audio; shorter clips cannot train.
            raise ValueError(
                f"{manifest}: {len(too_short)} {split} videos are shorter than {2 * self.hparams.max_offset + 5} "
                f"frames at 25 fps (first: {too_short[0]}); lower data.max_offset or drop them"
            )
        return clips

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        if self.train_set is not None:
            return
        manifest = Path(hp.manifest)
        if not manifest.exists():
            raise FileNotFoundError(
                f"{manifest}: no such manifest; build the synthetic talking-face set with "
                "`python scripts/build_synthetic_av.py` or point data.manifest at your own"
            )
        utterances = read_manifest(manifest)
        self.train_set = SyncWindowDataset(self._clips(utterances, "train"), hp.max_offset, items=hp.items_per_epoch)
        val_clips = self._clips(utterances, "val")
        windows = [(i, t) for i, clip in enumerate(val_clips) for t in clip.window_starts(hp.max_offset)[:: hp.val_stride]]
        self.val_set = SyncWindowDataset(val_clips, hp.max_offset, windows=windows[: hp.max_val_windows])

    def train_dataloader(self) -> DataLoader:
        sampler = SeededEpochSampler(len(self.train_set), self.hparams.seed)
        return make_loader(self.train_set, self.hparams.batch_size, self.hparams.num_workers, sampler, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return make_loader(self.val_set, self.hparams.batch_size, self.hparams.num_workers)
