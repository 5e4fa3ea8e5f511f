"""`python -m sonicsynth.export <command>`: packages and runtime exports.

  package      training checkpoint (.ckpt) -> verified package directory
  verify       check a package and print its manifest
  onnx         vocoder package or checkpoint -> ONNX (dynamic length), checked against PyTorch
  torchscript  vocoder package or checkpoint -> TorchScript, checked against PyTorch
  published    HiFi-GAN generator in the original implementation's layout (+ config.json) -> package
  face-onnx    face-motion (audio-to-blendshape) package or checkpoint -> ONNX, checked against PyTorch
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sonicsynth.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("package", help="training checkpoint -> package")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--trust", action="store_true", help="unpickle arbitrary objects (only for files you trust)")
    p.add_argument("--best", action="store_true",
                   help="package the best checkpoint of the run (by its ModelCheckpoint's metric, as recorded in CHECKPOINT)")
    p = sub.add_parser("verify", help="verify a package")
    p.add_argument("package", type=Path)
    p.add_argument("--family")
    for name in ("onnx", "torchscript"):
        p = sub.add_parser(name, help=f"vocoder -> {name}")
        p.add_argument("source", type=Path, help="package directory or training checkpoint")
        p.add_argument("out", type=Path)
        p.add_argument("--tolerance", type=float, default=1e-4)
    p = sub.add_parser("face-onnx", help="face-motion predictor -> ONNX")
    p.add_argument("source", type=Path, help="package directory or training checkpoint")
    p.add_argument("out", type=Path)
    p.add_argument("--tolerance", type=float, default=1e-4)
    p = sub.add_parser("published", help="published HiFi-GAN generator -> package")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("config", type=Path)
    p.add_argument("out", type=Path)
    args = parser.parse_args(argv)

    from sonicsynth.export.package import PackageError, load_package, save_package

    try:
        if args.command == "package":
            from sonicsynth.export.from_checkpoint import best_checkpoint, package_from_checkpoint

            source = best_checkpoint(args.checkpoint, trust=args.trust) if args.best else args.checkpoint
            out = package_from_checkpoint(source, args.out, trust=args.trust)
            print(json.dumps(load_package(out).manifest, indent=2))
        elif args.command == "verify":
            print(json.dumps(load_package(args.package, family=args.family).manifest, indent=2))
        elif args.command in ("onnx", "torchscript"):
            from sonicsynth.export.runtime_formats import export_checked
            from sonicsynth.models.vocoder.inference import Vocoder

            vocoder = Vocoder.load(args.source)
            diff = export_checked(args.command, vocoder.generator, args.out, vocoder.mel.n_mels)
            print(json.dumps({"output": str(args.out), "max_abs_difference_vs_pytorch": diff}))
            if diff >= args.tolerance:
                args.out.unlink(missing_ok=True)
                print(f"error: {args.out} differs from PyTorch by {diff:.3g} (>= {args.tolerance}); removed", file=sys.stderr)
                return 1
        elif args.command == "face-onnx":
            from sonicsynth.export.face_onnx import export_face_motion_checked
            from sonicsynth.pipelines.audio_to_face import load_face_predictor

            net, _, _ = load_face_predictor(args.source)
            diffs = export_face_motion_checked(net, args.out)
            print(json.dumps({"output": str(args.out), "max_abs_difference_vs_pytorch": diffs}))
            if max(diffs.values()) >= args.tolerance:
                args.out.unlink(missing_ok=True)
                print(f"error: {args.out} differs from PyTorch by {max(diffs.values()):.3g} (>= {args.tolerance}); removed",
                      file=sys.stderr)
                return 1
        elif args.command == "published":
            from sonicsynth.models.vocoder.lightning_module import HiFiGANLitModule
            from sonicsynth.models.vocoder.published import load_published_generator

            generator, config = load_published_generator(args.checkpoint, args.config)
            source = {"published_checkpoint": str(args.checkpoint), "published_config": str(args.config)}
            out = save_package(args.out, generator.state_dict(), config, HiFiGANLitModule.family, source=source)
            print(json.dumps(load_package(out).manifest, indent=2))
    except (PackageError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
