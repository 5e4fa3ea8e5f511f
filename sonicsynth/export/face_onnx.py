"""ONNX export of the audio-to-blendshape predictor, checked against PyTorch.

The graph is the offline network: features (batch, frames, dim) -> blendshapes (batch, frames, 52)
and pose (batch, frames, 6), with batch and frames dynamic, so one file serves any clip length. The
feature extraction (`FaceAudioFeatures`) stays outside the graph: it is numpy/librosa, and runtimes
that host the ONNX model usually have their own audio front end to feed it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sonicsynth.export.runtime_formats import onnx_session, write_onnx
from sonicsynth.models.face.predictor import FaceMotionTCN


def export_face_motion_onnx(net: FaceMotionTCN, path: str | Path, opset: int = 17, example_frames: int = 64) -> Path:
    example = torch.randn(1, example_frames, net.input_dim)
    axes = {"features": {0: "batch", 1: "frames"}, "blendshapes": {0: "batch", 1: "frames"},
            "pose": {0: "batch", 1: "frames"}}
    return write_onnx(net, (example,), path, ["features"], ["blendshapes", "pose"], axes, opset)


def run_face_motion_onnx(path: str | Path, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    blendshapes, pose = onnx_session(path).run(["blendshapes", "pose"], {"features": features.astype(np.float32)})
    return blendshapes, pose


def export_face_motion_checked(net: FaceMotionTCN, path: str | Path, test_frames: int = 173) -> dict[str, float]:
    """Export and return the max |ONNX - PyTorch| of both outputs on random features of a length other
    than the tracing example's (which also proves the time axis is dynamic)."""
    features = torch.randn(2, test_frames, net.input_dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        blendshapes, pose = net.eval()(features)
    export_face_motion_onnx(net, path)
    onnx_blendshapes, onnx_pose = run_face_motion_onnx(path, features.numpy())
    return {"blendshapes": float(np.abs(onnx_blendshapes - blendshapes.numpy()).max()),
            "pose": float(np.abs(onnx_pose - pose.numpy()).max())}
