"""ONNX and TorchScript exports of a generator, each checked against eager PyTorch.

The exported graph is the inference graph: weight norm is folded into the weights first, in place
(a deep copy would not do: torch's parametrized modules share a generated class between copies, and
folding one copy breaks the other). Callers that need the trained form keep the reference output,
as `export_checked` does. Time is a dynamic axis, so one file serves any utterance length.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sonicsynth.nn.weight_norm import remove_weight_norm
from sonicsynth.utils.atomic import atomic_write


def write_onnx(model: nn.Module, example_inputs: tuple[torch.Tensor, ...], path: str | Path, input_names: list[str],
               output_names: list[str], dynamic_axes: dict[str, dict[int, str]], opset: int = 17) -> Path:
    """Trace `model` (in eval mode) on `example_inputs` into one self-contained ONNX file, atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        # The TorchScript-based exporter: a plain convolutional graph needs nothing newer, and it
        # writes one self-contained file.
        torch.onnx.export(model.eval(), example_inputs, str(tmp), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=opset, dynamo=False)
        with open(tmp, "rb") as src, atomic_write(path, "wb") as dst:
            dst.write(src.read())
    finally:
        tmp.unlink(missing_ok=True)
    return path


def export_onnx(generator: nn.Module, path: str | Path, n_mels: int, opset: int = 17, example_frames: int = 64) -> Path:
    """Fold weight norm into `generator` (in place) and write it as ONNX with a dynamic time axis."""
    model = remove_weight_norm(generator)
    return write_onnx(model, (torch.randn(1, n_mels, example_frames),), path, ["mel"], ["audio"],
                      {"mel": {0: "batch", 2: "frames"}, "audio": {0: "batch", 2: "samples"}}, opset)


def export_torchscript(generator: nn.Module, path: str | Path, n_mels: int, example_frames: int = 64) -> Path:
    """Fold weight norm into `generator` (in place) and write it as traced TorchScript."""
    path = Path(path)
    model = remove_weight_norm(generator).eval()
    with torch.inference_mode():
        traced = torch.jit.trace(model, torch.randn(1, n_mels, example_frames))
    with atomic_write(path, "wb") as f:
        torch.jit.save(traced, f)
    return path


def onnx_session(path: str | Path, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path: str | Path, mel: torch.Tensor) -> np.ndarray:
    return onnx_session(path).run(["audio"], {"mel": mel.numpy()})[0]


def run_torchscript(path: str | Path, mel: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return torch.jit.load(str(path))(mel).numpy()


EXPORTERS: dict[str, tuple[Callable, Callable]] = {
    "onnx": (export_onnx, run_onnx),
    "torchscript": (export_torchscript, run_torchscript),
}


def export_checked(fmt: str, generator: nn.Module, path: str | Path, n_mels: int, test_frames: int = 173) -> float:
    """Export and return the max |exported - PyTorch| on a random mel of a length other than the
    tracing example's (which also proves the time axis is dynamic). `generator` is folded in place."""
    export, run = EXPORTERS[fmt]
    mel = torch.randn(1, n_mels, test_frames, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        reference = generator.eval()(mel).numpy()
    export(generator, path, n_mels)
    return float(np.abs(run(path, mel) - reference).max())
