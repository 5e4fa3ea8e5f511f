"""Speaker similarity of audio files to reference speech: cosine of resemblyzer utterance embeddings.

Either one `--reference` clip for every file (the target voice of a cloned-voice test set) or a
`--references` directory whose files pair with the inputs by relative path, else by name. Writes
similarity.json, similarity.md and similarity_distributions.png.

examples:
  python eval/similarity.py out/wavs --reference speaker_prompt.wav
  python eval/similarity.py out/wavs --references data/demo/wavs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="audio files and/or directories")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--reference", type=Path, help="one reference clip for all inputs")
    target.add_argument("--references", type=Path, help="directory of references paired by path or name")
    parser.add_argument("--out", type=Path, help="output directory (default logs/eval/similarity/<time>)")
    args = parser.parse_args(argv)

    from sonicsynth.audio.io import AudioError, load_audio
    from sonicsynth.metrics.base import MetricError
    from sonicsynth.metrics.batch import default_output_dir, find_files, reference_for, score_each, write_batch_report
    from sonicsynth.metrics.speaker import SpeakerSimilarity, cosine

    files = find_files(args.inputs)
    if not files:
        print(f"error: no audio files in {' '.join(args.inputs)}", file=sys.stderr)
        return 1
    speaker = SpeakerSimilarity()
    fixed = None
    if args.reference:
        try:
            audio = load_audio(args.reference)
            fixed = speaker.embed(audio.samples, audio.sample_rate, name=str(args.reference))
        except (AudioError, MetricError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    roots = [Path(i) for i in args.inputs if Path(i).is_dir()]

    def score(path: Path) -> dict:
        audio = load_audio(path)
        embedding = speaker.embed(audio.samples, audio.sample_rate, name=str(path))
        reference_path = args.reference
        reference = fixed
        if reference is None:
            root = next((r for r in roots if r in path.parents), None)
            reference_path = reference_for(path, root, args.references)
            if reference_path is None:
                raise MetricError(f"{path}: no reference with this name under {args.references}")
            ref_audio = load_audio(reference_path)
            reference = speaker.embed(ref_audio.samples, ref_audio.sample_rate, name=str(reference_path))
        return {"reference": str(reference_path), "speaker_similarity": cosine(embedding, reference)}

    rows = score_each(files, score, "similarity")
    out_dir = args.out or default_output_dir(ROOT, "similarity")
    facts = ["embeddings: resemblyzer VoiceEncoder (GE2E, 256-d, unit length), 16 kHz",
             f"reference: {args.reference or args.references}"]
    notes = ["Higher is better (1 = same embedding). Between different synthetic voices the cosine is 0.5-0.8 "
             "on this encoder, so read differences, not absolute values."]
    report = write_batch_report(out_dir, "similarity", "Speaker similarity report", rows, ["speaker_similarity"], facts, notes)
    print(json.dumps({"output_dir": str(out_dir), **{k: v for k, v in report.items() if k != "per_file"}}, indent=2))
    return 0 if report["scored"] else 1


if __name__ == "__main__":
    sys.exit(main())
