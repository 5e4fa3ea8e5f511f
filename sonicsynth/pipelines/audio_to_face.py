"""Speech -> face motion with a trained predictor, offline or streaming.

- `load_face_predictor(path)`: a package directory (`python -m sonicsynth.export`) or a
  `train.py experiment=a2bs_*` checkpoint.
- `FacePredictor.predict(samples)`: the motion of a whole clip. Long clips are processed in
  windows of `window_frames` with the network's state carried across each edge, so the result is
  the same as one pass over the whole clip (no seam), in bounded memory.
- `FacePredictor.stream()`: a `MotionStream`; `push(samples)` returns the frames that are final so
  far and `finish()` the rest. The output equals the offline prediction (up to float rounding) once
  the look-ahead is covered: frame t is emitted as soon as audio up to frame t + lookahead (plus
  the features' window) has arrived.

Audio with no speech (its loudest 25 ms below `min_speech_level_db`) is not run through the
network: the face stays at rest (neutral blendshapes, head still) and the result says so; a model
never trained on pure silence could otherwise mouth noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sonicsynth.audio import silence_problem
from sonicsynth.models.face.audio_features import SAMPLE_RATE, FaceAudioFeatures, FeatureStream
from sonicsynth.models.face.blendshapes import FPS, NUM_BLENDSHAPES, POSE_NAMES, FaceMotion
from sonicsynth.models.face.lightning_module import FaceMotionLitModule, build_predictor
from sonicsynth.models.face.predictor import FaceMotionTCN

DEFAULT_WINDOW_FRAMES = 1500  # 60 s of motion per network call for long clips
DEFAULT_MIN_SPEECH_LEVEL_DB = -50.0


def load_face_predictor(path: str | Path, trust: bool = False) -> tuple[FaceMotionTCN, FaceAudioFeatures, dict[str, Any]]:
    """(network in eval mode, its feature extractor, a description of the source) from a package
    directory or a training checkpoint."""
    from sonicsynth.export.package import check_state_dict_matches, load_package, load_training_checkpoint

    path = Path(path)
    if path.is_dir():
        package = load_package(path, family=FaceMotionLitModule.family)
        weights, config = package.state_dict, package.config
        source = {"kind": "package", "path": str(path), "compatibility_id": package.compatibility_id}
    else:
        checkpoint = load_training_checkpoint(path, trust=trust)
        family = checkpoint.get("sonicsynth", {}).get("family") if isinstance(checkpoint, dict) else None
        if family != FaceMotionLitModule.family:
            raise ValueError(f"{path}: not a face-motion training checkpoint (family {family!r})")
        weights, config = FaceMotionLitModule.package_contents(checkpoint)
        source = {"kind": "training_checkpoint", "path": str(path),
                  "compatibility_id": checkpoint["sonicsynth"].get("compatibility_id")}
    net, features = build_predictor(config["net"], config["features"])
    check_state_dict_matches(net, weights, path)
    net.load_state_dict(weights)
    return net.eval(), features, {**source, "config": config}


def rest_motion(num_frames: int, name: str = "face motion") -> FaceMotion:
    return FaceMotion(np.zeros((num_frames, NUM_BLENDSHAPES), np.float32),
                      np.zeros((num_frames, len(POSE_NAMES)), np.float32), fps=FPS, name=name)


@dataclass
class Prediction:
    motion: FaceMotion
    notes: list[str] = field(default_factory=list)


class FacePredictor:
    def __init__(self, net: FaceMotionTCN, features: FaceAudioFeatures, *, device: str = "cpu",
                 window_frames: int = DEFAULT_WINDOW_FRAMES,
                 min_speech_level_db: float | None = DEFAULT_MIN_SPEECH_LEVEL_DB, source: dict | None = None) -> None:
        """source: where the model came from and its recorded config (`load_face_predictor`)."""
        if window_frames < 1:
            raise ValueError(f"window_frames must be >= 1, got {window_frames}")
        self.net, self.features = net.eval().to(device), features
        self.device, self.window_frames, self.min_speech_level_db = device, window_frames, min_speech_level_db
        self.source = source or {}

    @classmethod
    def load(cls, path: str | Path, trust: bool = False, **settings: Any) -> FacePredictor:
        net, features, source = load_face_predictor(path, trust=trust)
        return cls(net, features, source=source, **settings)

    def _check(self, samples: np.ndarray, what: str) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"{what}: expected mono 16 kHz samples, got shape {samples.shape}")
        if not np.isfinite(samples).all():
            raise ValueError(f"{what}: the audio contains NaN or infinite samples")
        return samples

    def identity_index(self, identity: str | None) -> torch.Tensor | None:
        """The conditioning index of a training identity by name (None: the neutral, unknown one)."""
        if identity is None:
            return None
        known = list(self.source.get("config", {}).get("identities") or [])
        if identity not in known:
            raise ValueError(f"identity {identity!r} is not one this model was conditioned on "
                             f"(known: {', '.join(known) if known else 'none; the model is unconditioned'})")
        return torch.tensor([known.index(identity) + 1], device=self.device)

    @torch.inference_mode()
    def predict(self, samples: np.ndarray, name: str = "audio", identity: str | None = None) -> Prediction:
        """The face motion of a whole clip of 16 kHz mono samples (one frame per started 40 ms),
        optionally in the style of a training identity (a model trained with `num_identities`)."""
        index = self.identity_index(identity)
        samples = self._check(samples, name)
        if len(samples) == 0:
            raise ValueError(f"{name}: the audio is empty")
        frames = self.features.num_motion_frames(len(samples))
        problem = None if self.min_speech_level_db is None else silence_problem(samples, SAMPLE_RATE, self.min_speech_level_db)
        if problem is not None:
            return Prediction(rest_motion(frames, name), [f"{name}: no speech ({problem}); the face stays at rest"])
        features = torch.from_numpy(self.features(samples)).to(self.device)[None]
        if frames <= self.window_frames:
            blendshapes, pose = self.net(features, index)
            return Prediction(self._motion(blendshapes[0], pose[0], name))
        stream = MotionStream(self, name, identity, from_audio=False)
        parts = [stream.push_features(features[0, start : start + self.window_frames])
                 for start in range(0, frames, self.window_frames)]
        parts.append(stream.finish_features())
        windows = -(-frames // self.window_frames)
        return Prediction(_concat(parts, name), [f"{name}: {frames} frames predicted in {windows} windows of "
                                                 f"{self.window_frames} with the state carried across"])

    def stream(self, name: str = "stream", identity: str | None = None) -> MotionStream:
        return MotionStream(self, name, identity)

    @staticmethod
    def _motion(blendshapes: torch.Tensor, pose: torch.Tensor, name: str) -> FaceMotion:
        return FaceMotion(blendshapes.float().cpu().numpy(), pose.float().cpu().numpy(), fps=FPS, name=name)


def _concat(parts: list[FaceMotion | None], name: str) -> FaceMotion:
    parts = [p for p in parts if p is not None]
    if not parts:
        raise ValueError(f"{name}: no frames were predicted")
    return FaceMotion(np.concatenate([p.blendshapes for p in parts]), np.concatenate([p.pose for p in parts]),
                      fps=FPS, name=name)


class MotionStream:
    """Streaming prediction: feed audio with `push`, collect final frames; `finish` flushes the rest.

    Latency: frame t is final once the last 10 ms frame of motion frame t + lookahead is complete,
    i.e. once 640 (t + lookahead + 1) - 80 + `features.margin` samples have arrived: with the
    default look-ahead of 6 frames and 512 samples of half window, 307 ms after the start of frame t,
    plus the compute time of the chunk.
    """

    def __init__(self, predictor: FacePredictor, name: str, identity: str | None = None, from_audio: bool = True) -> None:
        """from_audio=False: fed with `push_features` only (features computed elsewhere, e.g. of a
        whole long clip, which also allows content features)."""
        self.predictor, self.name = predictor, name
        self.identity = predictor.identity_index(identity)
        self.net = predictor.net
        self.features = FeatureStream(predictor.features) if from_audio else None
        self.state = self.net.initial_state()
        self.to_skip = self.net.lookahead  # the network's first outputs are for frames before 0

    @torch.inference_mode()
    def push(self, samples: np.ndarray) -> FaceMotion | None:
        """New audio -> the frames that became final (None if none did)."""
        if self.features is None:
            raise RuntimeError(f"{self.name}: this stream was made for push_features, not audio")
        samples = self.predictor._check(samples, self.name)
        return self.push_features(torch.from_numpy(self.features.push(samples)).to(self.predictor.device))

    @torch.inference_mode()
    def finish(self) -> FaceMotion | None:
        """The remaining frames: one per started 40 ms of all the audio pushed, in total."""
        rest = self.push_features(torch.from_numpy(self.features.finish()).to(self.predictor.device))
        parts = [rest, self.finish_features()]
        return _concat(parts, self.name) if any(p is not None for p in parts) else None

    def push_features(self, features: torch.Tensor) -> FaceMotion | None:
        """New (frames, dim) features (not yet normalised) -> the frames that became final."""
        if len(features) == 0:
            return None
        return self._run(self.net.input_norm(features.T[None]))

    def finish_features(self) -> FaceMotion | None:
        """Pad the look-ahead with the mean feature (zeros after the input normalisation), as offline."""
        if not self.net.lookahead:
            return None
        return self._run(torch.zeros(1, self.net.input_dim, self.net.lookahead, device=self.predictor.device))

    def _run(self, normed: torch.Tensor) -> FaceMotion | None:
        blendshapes, pose, self.state = self.net.step(normed, self.state, self.identity)
        skip = min(self.to_skip, blendshapes.shape[1])
        self.to_skip -= skip
        blendshapes, pose = blendshapes[0, skip:], pose[0, skip:]
        if len(blendshapes) == 0:
            return None
        return FacePredictor._motion(blendshapes, pose, self.name)


