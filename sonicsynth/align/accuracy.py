"""Boundary accuracy of an alignment against a reference whose timings are known.

The reference and the aligner rarely agree on the phone sequence: they use different phone sets
(mapped to ARPAbet by `phone_sets`), different pronunciations ("the" as DH AH or DH IY) and different
pauses. So boundaries are paired through a sequence alignment, not by position, and an inserted or
dropped phone costs only the boundaries next to it instead of shifting every later one:

  phones  Both sequences are aligned by edit distance (substitutions allowed, except between silence
          and speech). The boundary between reference phones i-1 and i is paired with the one between
          hypothesis phones j-1 and j when i-1 <-> j-1 and i <-> j are both aligned pairs. Boundaries
          inside a split native phone (`MappedPhone.starts_boundary` False) are not scored.
  words   Word labels are normalised (lower case, punctuation dropped) and aligned the same way;
          each word aligned to an identical word contributes its start and its end.

Errors are hypothesis minus reference: a positive mean says the aligner places boundaries late, the
bias that `best_boundary_shift` measures on held-out data and `boundary_shift_sec` of the built-in
aligners corrects. Each paired phone boundary also has a kind (`base.BOUNDARY_KINDS`: between two
phones, into a pause, out of a pause; the same on both sides, since silence pairs only with silence):
the bias differs by kind, so `best_boundary_shifts` measures one shift per kind.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from sonicsynth.align.base import BOUNDARY_KINDS, SILENCE_PHONE, boundary_kind, transcript_words
from sonicsynth.align.phone_sets import PHONE_SET_TABLES, MappedPhone, map_to_arpabet
from sonicsynth.data.manifest import Alignment, Utterance, WordSpan, read_alignment, read_manifest

TOLERANCES_MS = (20, 40)


class BoundaryMatch(NamedTuple):
    """Paired boundary times (reference, hypothesis) in seconds, how many the reference has in all,
    and the kind of each pair (phone boundaries; empty for words)."""

    pairs: list[tuple[float, float]]
    reference_boundaries: int
    kinds: tuple[str, ...] = ()


def engine_of(utterance: Utterance) -> str:
    """The synthesis engine of a demo-corpus utterance, by its source prefix ("mbrola-us1" -> "mbrola")."""
    return utterance.source.split("-")[0]


def timed_references(manifest: Path, split: str, engines: Sequence[str]) -> list[tuple[Utterance, Alignment]]:
    """Utterances of the split and engines whose reference timings exist in a phone set we can map."""
    selected = []
    for utterance in read_manifest(manifest):
        alignment_file = utterance.alignment_file(manifest.parent)
        if utterance.split != split or engine_of(utterance) not in engines or alignment_file is None:
            continue
        reference = read_alignment(alignment_file)
        if reference.phone_set in PHONE_SET_TABLES:
            selected.append((utterance, reference))
    return selected


def align_sequences(
    reference: Sequence[str], hypothesis: Sequence[str], can_substitute: Callable[[str, str], bool]
) -> list[tuple[int, int]]:
    """Index pairs (i, j) aligned by minimum edit distance: match 0, substitution 1, insertion/deletion 1."""
    rows, cols = len(reference) + 1, len(hypothesis) + 1
    impossible = rows + cols  # more than any real path costs
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j

    def diagonal_cost(i: int, j: int) -> int:
        if reference[i - 1] == hypothesis[j - 1]:
            return 0
        return 1 if can_substitute(reference[i - 1], hypothesis[j - 1]) else impossible

    for i in range(1, rows):
        for j in range(1, cols):
            cost[i][j] = min(cost[i - 1][j - 1] + diagonal_cost(i, j), cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    pairs: list[tuple[int, int]] = []
    i, j = rows - 1, cols - 1
    while i > 0 and j > 0:
        # Prefer the diagonal on ties, so equal-cost paths keep phones paired rather than skipped.
        if cost[i][j] == cost[i - 1][j - 1] + diagonal_cost(i, j):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def _same_kind(reference: str, hypothesis: str) -> bool:
    """A phone may stand in for another phone, silence only for silence."""
    return (reference == SILENCE_PHONE) == (hypothesis == SILENCE_PHONE)


def match_phone_boundaries(reference: Sequence[MappedPhone], hypothesis: Sequence[MappedPhone]) -> BoundaryMatch:
    pairs = align_sequences([p.phone for p in reference], [p.phone for p in hypothesis], _same_kind)
    paired = [
        (i, j)
        for (i_prev, j_prev), (i, j) in itertools.pairwise(pairs)
        if i == i_prev + 1 and j == j_prev + 1 and reference[i].starts_boundary and hypothesis[j].starts_boundary
    ]
    total = sum(1 for phone in reference[1:] if phone.starts_boundary)
    return BoundaryMatch([(reference[i].start, hypothesis[j].start) for i, j in paired], total,
                         tuple(boundary_kind(hypothesis[j - 1].phone, hypothesis[j].phone) for _, j in paired))


def _normalised_word(word: str) -> str:
    return "".join(transcript_words(word))


def match_word_boundaries(reference: Sequence[WordSpan], hypothesis: Sequence[WordSpan]) -> BoundaryMatch:
    ref_words = [_normalised_word(w.word) for w in reference]
    hyp_words = [_normalised_word(w.word) for w in hypothesis]
    matched: list[tuple[float, float]] = []
    for i, j in align_sequences(ref_words, hyp_words, lambda a, b: False):
        matched += [(reference[i].start, hypothesis[j].start), (reference[i].end, hypothesis[j].end)]
    return BoundaryMatch(matched, 2 * len(reference))


def compare_alignments(reference: Alignment, hypothesis: Alignment) -> tuple[BoundaryMatch, BoundaryMatch | None]:
    """Phone boundaries (through ARPAbet) and, when both sides have words, word boundaries."""
    phones = match_phone_boundaries(
        map_to_arpabet(reference.phones, reference.phone_set), map_to_arpabet(hypothesis.phones, hypothesis.phone_set)
    )
    if reference.words is None or hypothesis.words is None:
        return phones, None
    return phones, match_word_boundaries(reference.words, hypothesis.words)


def signed_errors_ms(matches: Sequence[BoundaryMatch]) -> list[float]:
    """Hypothesis minus reference of every paired boundary, in ms."""
    return [(hyp - ref) * 1000 for match in matches for ref, hyp in match.pairs]


def share_within(errors_ms: Sequence[float], tolerance_ms: float) -> float:
    # The epsilon keeps an error of exactly the tolerance (up to float noise) inside it.
    return sum(abs(error) <= tolerance_ms + 1e-6 for error in errors_ms) / len(errors_ms)


def summarize_boundary_errors(matches: Sequence[BoundaryMatch]) -> dict[str, float | int | None]:
    """Counts, mean/median absolute and signed error (ms) and the share within each tolerance."""
    signed = signed_errors_ms(matches)
    errors_ms = [abs(error) for error in signed]
    reference_total = sum(match.reference_boundaries for match in matches)
    summary: dict[str, float | int | None] = {
        "boundaries": len(errors_ms),
        "reference_boundaries": reference_total,
        "matched_share": round(len(errors_ms) / reference_total, 4) if reference_total else None,
        "mean_abs_error_ms": round(statistics.fmean(errors_ms), 2) if errors_ms else None,
        "median_abs_error_ms": round(statistics.median(errors_ms), 2) if errors_ms else None,
        "mean_signed_error_ms": round(statistics.fmean(signed), 2) if signed else None,
        "median_signed_error_ms": round(statistics.median(signed), 2) if signed else None,
    }
    for tolerance in TOLERANCES_MS:
        summary[f"within_{tolerance}ms"] = round(share_within(errors_ms, tolerance), 4) if errors_ms else None
    return summary


def best_boundary_shift(
    matches: Sequence[BoundaryMatch], tolerance_ms: float = 20.0, search_ms: float = 30.0, step_ms: float = 0.5
) -> tuple[float, float]:
    """The shift (ms, added to every hypothesis boundary) within +-`search_ms` that puts the most
    paired boundaries within `tolerance_ms` of the reference, and that share. Pairing does not depend
    on the times, so shifting the errors is exactly re-aligning with shifted boundaries (as long as
    no phone is shorter than the shift). Ties go to the smallest shift, so an unbiased aligner keeps 0."""
    return _best_shift(signed_errors_ms(matches), tolerance_ms, search_ms, step_ms)


def _best_shift(signed: Sequence[float], tolerance_ms: float, search_ms: float, step_ms: float) -> tuple[float, float]:
    if not signed:
        raise ValueError("no paired boundaries to calibrate on")
    steps = round(search_ms / step_ms)
    candidates = sorted((k * step_ms for k in range(-steps, steps + 1)), key=abs)
    best = max(candidates, key=lambda shift: share_within([e + shift for e in signed], tolerance_ms))
    return best, share_within([e + best for e in signed], tolerance_ms)


def signed_errors_by_kind(matches: Sequence[BoundaryMatch]) -> dict[str, list[float]]:
    """`signed_errors_ms` of the phone boundaries, per boundary kind (every kind present, maybe empty)."""
    by_kind: dict[str, list[float]] = {kind: [] for kind in BOUNDARY_KINDS}
    for match in matches:
        for (ref, hyp), kind in zip(match.pairs, match.kinds, strict=True):
            by_kind[kind].append((hyp - ref) * 1000)
    return by_kind


def summarize_by_kind(matches: Sequence[BoundaryMatch]) -> dict[str, dict[str, float | int | None]]:
    """Per boundary kind: the count, the mean and median signed error (ms) and the share within each tolerance."""
    summary = {}
    for kind, signed in signed_errors_by_kind(matches).items():
        section: dict[str, float | int | None] = {
            "boundaries": len(signed),
            "mean_signed_error_ms": round(statistics.fmean(signed), 2) if signed else None,
            "median_signed_error_ms": round(statistics.median(signed), 2) if signed else None,
        }
        for tolerance in TOLERANCES_MS:
            section[f"within_{tolerance}ms"] = round(share_within(signed, tolerance), 4) if signed else None
        summary[kind] = section
    return summary


def best_boundary_shifts(
    matches: Sequence[BoundaryMatch], tolerance_ms: float = 20.0, search_ms: float = 30.0, step_ms: float = 0.5,
    min_boundaries: int = 20,
) -> tuple[dict[str, float], float]:
    """`best_boundary_shift` for each boundary kind on its own; a kind with fewer than `min_boundaries`
    paired boundaries takes the shift of all of them together (too few to measure its own). Returns
    the shift of each kind (ms) and the share within `tolerance_ms` with them applied."""
    overall, _ = best_boundary_shift(matches, tolerance_ms, search_ms, step_ms)
    by_kind = signed_errors_by_kind(matches)
    shifts = {kind: _best_shift(errors, tolerance_ms, search_ms, step_ms)[0] if len(errors) >= min_boundaries
              else overall for kind, errors in by_kind.items()}
    shifted = [e + shifts[kind] for kind, errors in by_kind.items() for e in errors]
    return shifts, share_within(shifted, tolerance_ms)
