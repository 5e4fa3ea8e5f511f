"""The Montreal Forced Aligner's file layouts, and its `mfa align` command when it is installed.

MFA needs Kaldi and OpenFst from conda, so it cannot be a pip dependency; users who have it (or run
it on another machine) exchange files with us instead:

  corpus (our manifest -> MFA input)    <corpus>/<speaker>/<utt>.wav + <corpus>/<speaker>/<utt>.lab
  output (MFA -> our alignments)        <out>/<speaker>/<utt>.TextGrid (or flat: <out>/<utt>.TextGrid)
                                        <out>/unalignable_files.csv lists what MFA gave up on
                                        (MFA 1.x wrote <out>/unaligned.txt instead)

Utterance ids are the file stems, so they must be unique across speakers (our manifest ids are).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sonicsynth.align.base import ARPABET
from sonicsynth.align.textgrid import read_textgrid_speakers
from sonicsynth.data.manifest import Alignment, read_manifest
from sonicsynth.utils.atomic import atomic_dir

TRANSCRIPT_SUFFIX = ".lab"
TEXTGRID_SUFFIX = ".TextGrid"
UNALIGNABLE_REPORTS = ("unalignable_files.csv", "unaligned.txt")
_FILE_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", TRANSCRIPT_SUFFIX, ".txt", TEXTGRID_SUFFIX.lower()}

MFA_INSTALL_HINT = """\
The Montreal Forced Aligner (`mfa`) is not on PATH. It needs Kaldi and OpenFst from conda-forge, so pip
cannot install it. Either install it:
    conda create -n aligner -c conda-forge montreal-forced-aligner
    conda activate aligner
    mfa model download acoustic english_us_arpa
    mfa model download dictionary english_us_arpa
and run this again from that environment, or run MFA anywhere else on the corpus directory:
    mfa align {corpus_dir} english_us_arpa english_us_arpa {out_dir}
then put its TextGrids in {out_dir}/<speaker>/<utterance>.TextGrid and load them with
sonicsynth.align.mfa.read_mfa_output("{out_dir}")."""


class MfaNotInstalledError(RuntimeError):
    """`mfa` is not on PATH; the message says how to install it or how to use its output instead."""


class MfaFailedError(RuntimeError):
    """`mfa align` ran and failed; the message carries the end of its output."""


@dataclass
class MfaOutput:
    """Alignments read from an MFA output directory.

    `alignments` is keyed by utterance id (file stem); a file with several speakers gives one entry per
    speaker, keyed "<stem>/<speaker>". `unaligned` lists the expected utterances that have no TextGrid,
    plus any MFA itself reported as unalignable, sorted.
    """

    alignments: dict[str, Alignment]
    unaligned: list[str] = field(default_factory=list)


def write_mfa_corpus(
    manifest_path: str | os.PathLike[str],
    corpus_dir: str | os.PathLike[str],
    link_audio: bool = True,
    overwrite: bool = False,
) -> Path:
    """Lay out a manifest as an MFA corpus: <corpus_dir>/<speaker>/<id><audio suffix> and <id>.lab.

    Audio is symlinked (absolute paths) or, with `link_audio=False`, copied. The directory appears
    complete or not at all. Returns `corpus_dir`.
    """
    manifest_path = Path(manifest_path)
    manifest_dir = manifest_path.parent
    with atomic_dir(corpus_dir, overwrite=overwrite) as staging:
        for utterance in read_manifest(manifest_path):
            audio = utterance.audio_file(manifest_dir).resolve()
            if not audio.is_file():
                raise FileNotFoundError(f"{manifest_path}: audio of {utterance.id!r} not found at {audio}")
            speaker_dir = staging / utterance.speaker
            speaker_dir.mkdir(exist_ok=True)
            target = speaker_dir / f"{utterance.id}{audio.suffix}"
            if link_audio:
                target.symlink_to(audio)
            else:
                shutil.copy2(audio, target)
            (speaker_dir / f"{utterance.id}{TRANSCRIPT_SUFFIX}").write_text(utterance.text + "\n", encoding="utf-8")
    return Path(corpus_dir)


def corpus_utterance_ids(corpus_dir: str | os.PathLike[str]) -> list[str]:
    """Ids of the utterances in an MFA corpus directory (one per transcript file), sorted."""
    return sorted(path.stem for path in Path(corpus_dir).rglob(f"*{TRANSCRIPT_SUFFIX}"))


def read_mfa_output(
    out_dir: str | os.PathLike[str],
    expected_ids: Iterable[str] | None = None,
    phone_set: str = ARPABET,
) -> MfaOutput:
    """Read MFA's TextGrids (<out>/<speaker>/<utt>.TextGrid or <out>/<utt>.TextGrid).

    `phone_set` names the phones of the acoustic model used (english_us_arpa: "arpabet", with stress).
    With `expected_ids`, utterances that have no TextGrid are reported in `unaligned`.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"{out_dir}: no such MFA output directory")
    alignments: dict[str, Alignment] = {}
    aligned_stems: dict[str, Path] = {}
    for path in sorted([*out_dir.glob(f"*{TEXTGRID_SUFFIX}"), *out_dir.glob(f"*/*{TEXTGRID_SUFFIX}")]):
        if path.stem in aligned_stems:
            raise ValueError(
                f"{out_dir}: utterance id {path.stem!r} appears twice ({aligned_stems[path.stem]}, {path})"
            )
        aligned_stems[path.stem] = path
        by_speaker = read_textgrid_speakers(path, phone_set=phone_set, source="mfa")
        if len(by_speaker) == 1:
            alignments[path.stem] = next(iter(by_speaker.values()))
        else:
            alignments.update({f"{path.stem}/{speaker}": alignment for speaker, alignment in by_speaker.items()})
    unaligned = set(_reported_unalignable(out_dir))
    if expected_ids is not None:
        unaligned |= set(expected_ids) - set(aligned_stems)
    return MfaOutput(alignments=alignments, unaligned=sorted(unaligned))


def _reported_unalignable(out_dir: Path) -> list[str]:
    """Utterance ids from MFA's own reports of what it could not align."""
    entries: list[str] = []
    csv_report, text_report = (out_dir / name for name in UNALIGNABLE_REPORTS)
    if csv_report.is_file():
        with open(csv_report, encoding="utf-8", newline="") as file:
            rows = list(csv.reader(file))[1:]  # header "file,begin,end,..." (MFA 3) or "File path,..." (MFA 2)
        entries += [row[0] for row in rows if row]
    if text_report.is_file():  # one utterance per line, optionally followed by a reason
        entries += [line.split()[0] for line in text_report.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [_utterance_id(entry.strip()) for entry in entries if entry.strip()]


def _utterance_id(file_entry: str) -> str:
    # Ids may contain dots ("spk.a-001"), so only a known file suffix is removed, not any last ".part".
    name = Path(file_entry).name
    suffix = Path(name).suffix.lower()
    return name[: -len(suffix)] if suffix in _FILE_SUFFIXES else name


def run_mfa_align(
    corpus_dir: str | os.PathLike[str],
    dictionary: str | os.PathLike[str],
    acoustic_model: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    num_jobs: int = 2,
    extra_args: Iterable[str] = (),
) -> MfaOutput:
    """Run `mfa align` on a corpus directory and read the result.

    `dictionary` and `acoustic_model` are paths or names of downloaded MFA models ("english_us_arpa").
    Raises MfaNotInstalledError when `mfa` is not on PATH, MfaFailedError when it exits with an error.
    """
    executable = shutil.which("mfa")
    if executable is None:
        raise MfaNotInstalledError(MFA_INSTALL_HINT.format(corpus_dir=corpus_dir, out_dir=out_dir))
    command = [
        executable, "align", str(corpus_dir), str(dictionary), str(acoustic_model), str(out_dir),
        "--clean", "--output_format", "long_textgrid", "--num_jobs", str(num_jobs), *extra_args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-2000:]
        raise MfaFailedError(f"`{' '.join(command)}` exited with status {result.returncode}:\n{output}")
    return read_mfa_output(out_dir, expected_ids=corpus_utterance_ids(corpus_dir))
