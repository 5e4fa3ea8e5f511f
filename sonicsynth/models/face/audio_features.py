"""Audio features of the face predictor, one vector per 25 fps motion frame.

Per 10 ms frame (100 Hz at 16 kHz): a log-mel spectrogram, its MFCCs (the DCT of the log-mel, the
cepstrum lip-sync models such as SyncNet read), the frame level in dB, log-F0 and a voicing flag
(YIN). Four consecutive 10 ms frames are stacked into one motion frame, so motion frame k holds the
features of 10 ms frames 4k .. 4k+3, whose windows are centred at samples 640k + 80, + 240, + 400 and
+ 560: inside [640k, 640(k+1)), the 40 ms that frame k of the motion covers.

Every feature is framed by absolute sample position: the window of 10 ms frame j is centred at
160 j + 80 and reads zeros before the first sample, and no feature is normalised over the
utterance. A frame's value therefore depends only on the audio around it, so features computed
piece by piece as audio streams in (`FeatureStream`) equal those of the whole clip exactly, which
is what lets the streaming predictor match the offline one. Scaling to unit range is left to the
predictor's input normalisation.

Optionally, `content` adds the data pipeline's content features (`sonicsynth.features.extractors`:
`SSLContentFeature` over a local HuBERT/wav2vec2 directory, or `CTCContentFeature`, the built-in
aligner's hidden layer), averaged over each motion frame's 40 ms. Those models read the whole clip
(their convolutions and attention look both ways), so with content the features are offline only:
`FeatureStream` refuses them. On the synthetic corpus the built-in CTC content features did not help
(jawOpen correlation on the unseen voice 0.61 with them, 0.62 without, 300 training steps), so the
default is without.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cached_property

import librosa
import numpy as np
import torch
import torchaudio.functional as AF

from sonicsynth.audio.prosody import periodicity
from sonicsynth.models.face.blendshapes import FPS

SAMPLE_RATE = 16000
HOP = 160  # 10 ms
FRAMES_PER_MOTION_FRAME = 4
MOTION_HOP = HOP * FRAMES_PER_MOTION_FRAME  # 640 samples = 40 ms = one frame at 25 fps
assert SAMPLE_RATE // MOTION_HOP == FPS


@dataclass(frozen=True)
class FaceAudioFeatures:
    """Settings of the features (hashed into the feature cache key) and their computation."""

    n_mels: int = 80
    n_fft: int = 512
    win_length: int = 400  # 25 ms
    n_mfcc: int = 13
    fmin: float = 50.0
    fmax: float = 7600.0
    pitch_window: int = 1024  # YIN needs two periods of the lowest F0 (fmin_f0)
    fmin_f0: float = 60.0
    fmax_f0: float = 600.0
    voicing_threshold: float = 0.5  # normalised autocorrelation at the YIN period
    silence_db: float = -55.0  # quieter frames are unvoiced whatever their periodicity
    content: dict | None = None  # `_target_` config of a content extractor (module docstring)

    def __hash__(self) -> int:  # the content config is a dict; settings() is the identity anyway
        return hash(json.dumps(self.settings(), sort_keys=True, default=str))

    @cached_property
    def content_extractor(self):
        if self.content is None:
            return None
        from hydra.utils import instantiate

        return instantiate(self.content, _convert_="all")

    @cached_property
    def content_dim(self) -> int:
        """Dimension of the content features (0 without), from a 1 s probe of the extractor."""
        if self.content_extractor is None:
            return 0
        probe = self.content_extractor(np.zeros(SAMPLE_RATE, np.float32))
        return int(next(iter(probe.values())).shape[0])

    @property
    def dim_per_frame(self) -> int:
        return self.n_mels + self.n_mfcc + 3  # + level, log-F0, voicing

    @property
    def dim(self) -> int:
        """Features per motion frame."""
        return FRAMES_PER_MOTION_FRAME * self.dim_per_frame + self.content_dim

    @property
    def margin(self) -> int:
        """Samples of audio beyond a frame's centre that its widest window reads, each side."""
        return max(self.n_fft, self.pitch_window) // 2

    def settings(self) -> dict:
        values = {name: value for name, value in asdict(self).items() if name != "content"}
        if self.content is not None:  # what the extractor itself says determines its output (weights hash)
            values["content"] = {"name": self.content_extractor.name, **self.content_extractor.settings()}
        return {"kind": "face_audio_features", "sample_rate": SAMPLE_RATE, "hop": HOP, **values}

    def num_motion_frames(self, num_samples: int) -> int:
        """Motion frames of a clip: one per started 40 ms, as the synthetic targets count them."""
        return int(np.ceil(num_samples / MOTION_HOP))

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """(motion frames, dim) float32 features of a whole clip of 16 kHz mono samples."""
        samples = np.asarray(samples, dtype=np.float32)
        frames = self.num_motion_frames(len(samples)) * FRAMES_PER_MOTION_FRAME
        acoustic = self.stack(self.frames(samples, 0, 0, frames))
        if self.content_extractor is None:
            return acoustic
        return np.concatenate([acoustic, self._content(samples, len(acoustic))], axis=1)

    def _content(self, samples: np.ndarray, motion_frames: int) -> np.ndarray:
        """(motion_frames, content_dim): the content frames whose centres fall in each 40 ms, averaged
        (nearest frame where none does)."""
        extractor = self.content_extractor
        if extractor.sample_rate != SAMPLE_RATE:
            raise ValueError(f"content features at {extractor.sample_rate} Hz; the face features read {SAMPLE_RATE} Hz")
        content = next(iter(extractor(samples).values())).T  # (frames, dim)
        if len(content) == 0:
            return np.zeros((motion_frames, self.content_dim), np.float32)
        centres = (np.arange(len(content)) + 0.5) * (len(samples) / len(content))
        owner = np.minimum((centres // MOTION_HOP).astype(int), motion_frames - 1)
        sums = np.zeros((motion_frames, content.shape[1]))
        np.add.at(sums, owner, content)
        counts = np.bincount(owner, minlength=motion_frames)
        nearest = np.clip(np.round((np.arange(motion_frames) + 0.5) * MOTION_HOP / (len(samples) / len(content)) - 0.5)
                          .astype(int), 0, len(content) - 1)
        averaged = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], content[nearest])
        return averaged.astype(np.float32)

    def stack(self, per_frame: np.ndarray) -> np.ndarray:
        """(4 m, dim_per_frame) 10 ms frames -> (m, 4 dim_per_frame) motion frames (acoustic features)."""
        return per_frame.reshape(-1, FRAMES_PER_MOTION_FRAME * self.dim_per_frame).astype(np.float32)

    def frames(self, audio: np.ndarray, audio_start: int, first: int, count: int) -> np.ndarray:
        """(count, dim_per_frame) features of 10 ms frames first .. first + count - 1, from `audio`
        whose first sample is absolute sample `audio_start`; samples outside it read as zeros (it
        must hold every sample the frames' windows reach that exists)."""
        if count <= 0:
            return np.zeros((0, self.dim_per_frame), np.float32)
        mel = self._log_mel(self._window_span(audio, audio_start, first, count, self.n_fft), count)
        mfcc = mel @ self._dct
        level = self._level_db(self._window_span(audio, audio_start, first, count, self.win_length), count)
        f0, voiced = self._pitch(self._window_span(audio, audio_start, first, count, self.pitch_window), count, level)
        log_f0 = np.where(voiced, np.log2(np.maximum(f0, 1.0) / 100.0), 0.0)
        return np.concatenate(
            [mel, mfcc, level[:, None] / 20.0, log_f0[:, None], voiced[:, None].astype(np.float32)], axis=1
        ).astype(np.float32)

    # --- framing ---------------------------------------------------------------------------------

    @staticmethod
    def _window_span(audio: np.ndarray, audio_start: int, first: int, count: int, window: int) -> np.ndarray:
        """The samples that frames first .. first+count-1 with `window`-long centred windows read,
        starting at the first frame's window start (zeros where the audio has none)."""
        begin = HOP * first + HOP // 2 - window // 2
        length = HOP * (count - 1) + window
        out = np.zeros(length, np.float32)
        lo, hi = max(begin, audio_start), min(begin + length, audio_start + len(audio))
        if hi > lo:
            out[lo - begin : hi - begin] = audio[lo - audio_start : hi - audio_start]
        return out

    def _log_mel(self, span: np.ndarray, count: int) -> np.ndarray:
        wav = torch.from_numpy(span)
        window = torch.hann_window(self.win_length)
        spec = torch.stft(wav, self.n_fft, HOP, self.win_length, window, center=False, return_complex=True)
        power = spec.abs().pow(2)[:, :count]
        mel = self._mel_basis @ power
        return torch.log(mel.clamp_min(1e-6)).T.numpy()

    @cached_property
    def _mel_basis(self) -> torch.Tensor:
        basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=self.n_fft, n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax)
        return torch.from_numpy(basis)

    @cached_property
    def _dct(self) -> np.ndarray:
        return AF.create_dct(self.n_mfcc, self.n_mels, norm="ortho").numpy()

    def _level_db(self, span: np.ndarray, count: int) -> np.ndarray:
        windows = librosa.util.frame(span, frame_length=self.win_length, hop_length=HOP)[:, :count]
        rms = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=0))
        return (20.0 * np.log10(np.maximum(rms, 1e-5))).astype(np.float32)

    def _pitch(self, span: np.ndarray, count: int, level_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f0 = librosa.yin(span, fmin=self.fmin_f0, fmax=self.fmax_f0, sr=SAMPLE_RATE,
                         frame_length=self.pitch_window, hop_length=HOP, center=False)[:count]
        windows = librosa.util.frame(span, frame_length=self.pitch_window, hop_length=HOP)[:, :count].T
        periodic = periodicity(windows, np.round(SAMPLE_RATE / f0).astype(int))
        voiced = (periodic > self.voicing_threshold) & (level_db > self.silence_db)
        return f0.astype(np.float32), voiced


class FeatureStream:
    """Features of audio that arrives piece by piece, equal to those of the whole clip.

    `push(samples)` returns the motion frames whose windows the audio received so far covers
    (possibly none); `finish()` returns the rest, reading zeros past the end as the offline features
    do. Only the last window's worth of audio is kept.
    """

    def __init__(self, features: FaceAudioFeatures) -> None:
        if features.content is not None:
            raise ValueError("these features include content features, which are computed over the whole clip; "
                             "streaming needs a model trained without them (model.features.content=null)")
        self.features = features
        self.buffer = np.zeros(0, np.float32)
        self.buffer_start = 0  # absolute index of buffer[0]
        self.received = 0
        self.done = 0  # 10 ms frames emitted

    def push(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.buffer = np.concatenate([self.buffer, samples])
        self.received += len(samples)
        # 10 ms frame j is complete once its widest window ends: 160 j + 80 + margin <= received.
        ready = (self.received - self.features.margin - HOP // 2) // HOP + 1
        ready = max(0, ready - ready % FRAMES_PER_MOTION_FRAME)
        return self._emit(ready)

    def finish(self) -> np.ndarray:
        total = self.features.num_motion_frames(self.received) * FRAMES_PER_MOTION_FRAME
        return self._emit(total)

    def _emit(self, until: int) -> np.ndarray:
        count = until - self.done
        if count <= 0:
            return np.zeros((0, FRAMES_PER_MOTION_FRAME * self.features.dim_per_frame), np.float32)
        frames = self.features.frames(self.buffer, self.buffer_start, self.done, count)
        self.done = until
        keep_from = HOP * self.done + HOP // 2 - self.features.margin
        if keep_from > self.buffer_start:
            self.buffer = self.buffer[keep_from - self.buffer_start :]
            self.buffer_start = keep_from
        return self.features.stack(frames)

