"""Corpus adapters: a dataset on disk in its published layout -> a manifest (`sonicsynth.data.manifest`).

`make_manifest(format, root, out_path, **options)` runs the adapter registered under `format` in
`ADAPTERS`, then does what is the same for every format:

1. the adapter lists candidate utterances and the items it cannot use (malformed lines, audio
   without a transcript, ...);
2. empty texts, duplicate ids and missing audio files become problems;
3. each audio file's header is read with soundfile for the exact sample count and rate
   (unreadable or empty audio is a problem);
4. splits are assigned by `sonicsynth.data.splits.assign_splits`;
5. the manifest (sorted by id, `source` = the format name, audio paths relative to the manifest's
   folder) and `<out>.problems.json` (every item left out: path, line where known, reason) are
   written atomically, and a summary is logged.

Bad items never stop a run and are never dropped silently; a whole-dataset problem (root, metadata
file or audio folder missing; an unknown option) raises an error naming the path or option.

Formats, what `root` is, and their options (see each module for the exact layout):

    ljspeech     the LJSpeech-1.1 folder                       text = normalized | raw
    vctk         VCTK-Corpus-0.92 or VCTK-Corpus (0.80)        mic = mic1 | mic2
    libritts     LibriTTS, or one of its subset folders        text = normalized | original
    libritts_r   LibriTTS-R, or one of its subset folders      text = normalized | original
    aishell3     the AISHELL-3 folder (train/, test/)
    gpt_sovits   a GPT-SoVITS .list file                       audio_dir
    mfa          an MFA corpus folder                          language
    csv          a CSV file with a header row                  *_column, speaker, language, audio_dir, delimiter
    jsonl        a JSON Lines file                             *_column, speaker, language, audio_dir
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from sonicsynth.audio import truncation_problem
from sonicsynth.data.adapters import aishell3, gpt_sovits, libritts, ljspeech, mfa, table, vctk
from sonicsynth.data.adapters.base import Candidate, CorpusScan, Problem
from sonicsynth.data.manifest import SPLITS, Utterance, write_manifest
from sonicsynth.data.splits import SplitBy, assign_splits, check_split_options
from sonicsynth.utils.atomic import atomic_write

log = logging.getLogger(__name__)

ADAPTERS: dict[str, Callable[..., CorpusScan]] = {
    "ljspeech": ljspeech.scan,
    "vctk": vctk.scan,
    "libritts": libritts.scan,
    "libritts_r": libritts.scan,
    "aishell3": aishell3.scan,
    "gpt_sovits": gpt_sovits.scan,
    "mfa": mfa.scan,
    "csv": table.scan_csv,
    "jsonl": table.scan_jsonl,
}


def adapter_options(format: str) -> list[str]:
    """The option names `make_manifest` accepts for `format` (its adapter's keyword parameters)."""
    return [name for name in inspect.signature(ADAPTERS[format]).parameters if name != "root"]


def problems_path(out_path: str | os.PathLike[str]) -> Path:
    """Where the problems of the manifest at `out_path` are written: `<out>.problems.json`."""
    out_path = Path(out_path)
    return out_path.with_name(f"{out_path.name}.problems.json")


def make_manifest(
    format: str,
    root: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    val_every: int | None = 10,
    test_every: int | None = None,
    split_by: SplitBy = "utterance",
    seed: int = 0,
    progress: bool = True,
    **options: str,
) -> list[Utterance]:
    """Write the manifest of the corpus at `root` to `out_path` and return its utterances (see module doc)."""
    if format not in ADAPTERS:
        raise ValueError(f"unknown corpus format {format!r}; known: {', '.join(ADAPTERS)}")
    unknown = sorted(set(options) - set(adapter_options(format)))
    if unknown:
        accepted = ", ".join(adapter_options(format)) or "none"
        raise ValueError(f"format {format!r} has no option {', '.join(unknown)} (its options: {accepted})")
    check_split_options(val_every, test_every, split_by)
    root = Path(os.path.abspath(root))
    out_path = Path(os.path.abspath(out_path))
    if not root.exists():
        raise FileNotFoundError(f"{format} corpus not found: {root} does not exist")

    scan = ADAPTERS[format](root, **options)
    problems = list(scan.problems)
    candidates = _usable_candidates(scan.candidates, problems)
    utterances: list[Utterance] = []
    for candidate in tqdm(candidates, desc=f"{format}: audio headers", unit="file", disable=not progress):
        described = _describe(candidate, format, out_path.parent)
        if isinstance(described, Problem):
            problems.append(described)
        else:
            utterances.append(described)

    problems.sort(key=lambda problem: (str(problem.path), problem.line or 0, problem.reason))
    _write_problems(problems_path(out_path), problems)
    if not utterances:
        raise ValueError(
            f"no usable utterances in {root} ({len(problems)} problems, listed in {problems_path(out_path)})"
        )
    utterances = assign_splits(utterances, val_every=val_every, test_every=test_every, by=split_by, seed=seed)
    write_manifest(out_path, utterances)
    _log_summary(format, root, out_path, utterances, problems)
    return utterances


def _usable_candidates(candidates: Sequence[Candidate], problems: list[Problem]) -> list[Candidate]:
    """The candidates with text, a unique id and an existing audio file; the others become problems."""
    usable: list[Candidate] = []
    first_with_id: dict[str, Candidate] = {}
    for candidate in candidates:
        if not candidate.text:
            problems.append(Problem(candidate.transcript, "empty text", candidate.line))
        elif candidate.id in first_with_id:
            first = first_with_id[candidate.id]
            where = str(first.transcript) if first.line is None else f"{first.transcript}, line {first.line}"
            problems.append(
                Problem(candidate.transcript, f"duplicate id {candidate.id!r} (first at {where})", candidate.line)
            )
        elif not candidate.audio_file.is_file():
            problems.append(
                Problem(candidate.transcript, f"audio file missing: {candidate.audio_file}", candidate.line)
            )
        else:
            first_with_id[candidate.id] = candidate
            usable.append(candidate)
    return usable


def _describe(candidate: Candidate, source: str, manifest_dir: Path) -> Utterance | Problem:
    try:
        info = sf.info(str(candidate.audio_file))
    except RuntimeError as error:  # soundfile's LibsndfileError is a RuntimeError
        return Problem(candidate.audio_file, f"unreadable audio: {error}")
    if info.frames <= 0:
        return Problem(candidate.audio_file, "audio has no samples")
    truncated = truncation_problem(candidate.audio_file)
    if truncated:
        return Problem(candidate.audio_file, truncated)
    try:
        return Utterance(
            id=candidate.id,
            audio_path=os.path.relpath(candidate.audio_file, manifest_dir),
            text=candidate.text,
            speaker=candidate.speaker,
            language=candidate.language,
            duration=info.frames / info.samplerate,
            sample_rate=info.samplerate,
            source=source,
            alignment_path=None,
            split="train",  # provisional: assign_splits decides once every utterance is known
            extras=dict(candidate.extras),
        )
    except ValueError as error:
        return Problem(candidate.transcript, str(error), candidate.line)


def _write_problems(path: Path, problems: Sequence[Problem]) -> None:
    # Written even when empty, so a stale list from an earlier run never sits beside a new manifest.
    lines = [json.dumps(problem.to_json(), ensure_ascii=False) for problem in problems]
    with atomic_write(path, mode="w") as file:
        file.write("[\n " + ",\n ".join(lines) + "\n]\n" if lines else "[]\n")


def _log_summary(
    format: str, root: Path, out_path: Path, utterances: Sequence[Utterance], problems: Sequence[Problem]
) -> None:
    per_split = Counter(utterance.split for utterance in utterances)
    hours = sum(utterance.duration for utterance in utterances) / 3600
    speakers = len({utterance.speaker for utterance in utterances})
    log.info(
        "%s: %d utterances, %d speakers, %.2f h (%s) from %s written to %s",
        format,
        len(utterances),
        speakers,
        hours,
        ", ".join(f"{split} {per_split[split]}" for split in SPLITS),
        root,
        out_path,
    )
    if problems:
        log.warning(
            "%s: %d items left out, listed in %s; first: %s",
            format,
            len(problems),
            problems_path(out_path),
            problems[0],
        )
