"""Exact mouth targets from a phone timeline: ARKit-52 blendshape curves for the synthetic
audio-visual corpus (the face predictor's ground truth where no captured faces exist).

Each ARPAbet phone has a viseme: a few mouth blendshapes at fixed weights (`VISEMES`, following the
usual viseme classes: bilabials press the lips shut, labiodentals tuck the lower lip, rounded vowels
pucker and funnel, open vowels drop the jaw, spread vowels stretch). Phones are blended into curves
with the dominance model of coarticulation (Cohen & Massaro, 1993): every phone pulls the mouth
towards its viseme with a weight that is flat over the central half of the phone (its core, where it
holds its target) and falls off exponentially away from it,

    D_p(t) = strength_p * exp(-distance(t, core_p) / spread_p)    value(t) = sum_p D_p(t) V_p / sum_p D_p(t)

with `spread_p` growing with the phone's duration. Consonants that must reach their target (a
bilabial must close the lips, or /p b m/ are not seen) are strong; vowels and silence are weaker, so
they yield to their neighbours, as a speaking mouth does (the lips round ahead of /uw/ within the
preceding consonant, the jaw barely opens for a short unstressed vowel between closures).

Frames are sampled at their start times, at 25 fps (`FPS`), the time base of face motion.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sonicsynth.align.base import SILENCE_PHONE
from sonicsynth.align.phone_sets import map_to_arpabet
from sonicsynth.data.manifest import Alignment
from sonicsynth.models.face.blendshapes import FPS, NUM_BLENDSHAPES, blendshape_index


def _both(name: str, weight: float) -> dict[str, float]:
    return {f"{name}Left": weight, f"{name}Right": weight}


_REST: dict[str, float] = {}
_CLOSED = {"mouthClose": 0.6, **_both("mouthPress", 0.5), "mouthRollLower": 0.2, "mouthRollUpper": 0.15}
_LABIODENTAL = {"jawOpen": 0.08, "mouthRollLower": 0.6, **_both("mouthUpperUp", 0.25), "mouthClose": 0.2}
_DENTAL = {"jawOpen": 0.15, **_both("mouthLowerDown", 0.2), "tongueOut": 0.3}
_ALVEOLAR = {"jawOpen": 0.18, **_both("mouthLowerDown", 0.15), **_both("mouthStretch", 0.15)}
_POSTALVEOLAR = {"jawOpen": 0.15, "mouthFunnel": 0.45, "mouthPucker": 0.25, **_both("mouthUpperUp", 0.15)}
_VELAR = {"jawOpen": 0.25, **_both("mouthLowerDown", 0.15), **_both("mouthStretch", 0.1)}
_ROUNDED_GLIDE = {"jawOpen": 0.1, "mouthPucker": 0.75, "mouthFunnel": 0.35}

# ARPAbet (no stress) -> (viseme weights, dominance strength).
VISEMES: dict[str, tuple[Mapping[str, float], float]] = {
    SILENCE_PHONE: (_REST, 1.5),
    **dict.fromkeys(("P", "B", "M"), (_CLOSED, 4.0)),
    **dict.fromkeys(("F", "V"), (_LABIODENTAL, 2.5)),
    **dict.fromkeys(("TH", "DH"), (_DENTAL, 1.5)),
    **dict.fromkeys(("T", "D", "N", "L", "S", "Z"), (_ALVEOLAR, 1.0)),
    **dict.fromkeys(("SH", "ZH", "CH", "JH"), (_POSTALVEOLAR, 1.8)),
    **dict.fromkeys(("K", "G", "NG", "HH", "Y"), (_VELAR, 0.8)),
    "R": ({"jawOpen": 0.15, "mouthFunnel": 0.35, "mouthPucker": 0.35}, 1.5),
    "W": (_ROUNDED_GLIDE, 2.0),
    "ER": ({"jawOpen": 0.3, "mouthFunnel": 0.4, "mouthPucker": 0.3}, 1.0),
    "AA": ({"jawOpen": 0.8, **_both("mouthLowerDown", 0.4), **_both("mouthStretch", 0.1)}, 1.0),
    "AE": ({"jawOpen": 0.6, **_both("mouthStretch", 0.35), **_both("mouthLowerDown", 0.3)}, 1.0),
    "AH": ({"jawOpen": 0.5, **_both("mouthLowerDown", 0.25)}, 0.8),
    "AO": ({"jawOpen": 0.6, "mouthFunnel": 0.45, "mouthPucker": 0.2}, 1.0),
    "AW": ({"jawOpen": 0.6, "mouthFunnel": 0.35, "mouthPucker": 0.3}, 1.0),
    "AY": ({"jawOpen": 0.65, **_both("mouthStretch", 0.25), **_both("mouthLowerDown", 0.3)}, 1.0),
    "EH": ({"jawOpen": 0.45, **_both("mouthStretch", 0.35), **_both("mouthLowerDown", 0.2)}, 0.9),
    "EY": ({"jawOpen": 0.35, **_both("mouthStretch", 0.45), **_both("mouthSmile", 0.2)}, 0.9),
    "IH": ({"jawOpen": 0.3, **_both("mouthStretch", 0.4)}, 0.8),
    "IY": ({"jawOpen": 0.2, **_both("mouthStretch", 0.55), **_both("mouthSmile", 0.3)}, 1.0),
    "OW": ({"jawOpen": 0.4, "mouthFunnel": 0.55, "mouthPucker": 0.45}, 1.2),
    "OY": ({"jawOpen": 0.45, "mouthFunnel": 0.5, "mouthPucker": 0.35}, 1.2),
    "UH": ({"jawOpen": 0.3, "mouthFunnel": 0.4, "mouthPucker": 0.5}, 1.0),
    "UW": ({"jawOpen": 0.2, "mouthFunnel": 0.45, "mouthPucker": 0.8}, 1.5),
}  # fmt: skip
# Spoken noise and anything unmapped: a half-open neutral mouth, weak.
UNKNOWN_VISEME: tuple[Mapping[str, float], float] = ({"jawOpen": 0.35, **_both("mouthLowerDown", 0.15)}, 0.5)

# The fall-off of a phone's dominance: `SPREAD_FRACTION` of its duration, at least `MIN_SPREAD_SEC`
# (a 30 ms phone still reaches out a little).
SPREAD_FRACTION = 0.4
MIN_SPREAD_SEC = 0.025


def viseme_vector(phone: str) -> tuple[np.ndarray, float]:
    """(52,) blendshape weights of an ARPAbet phone's viseme, and its dominance strength."""
    weights, strength = VISEMES.get(phone, UNKNOWN_VISEME)
    vector = np.zeros(NUM_BLENDSHAPES, dtype=np.float64)
    for name, weight in weights.items():
        vector[blendshape_index(name)] = weight
    return vector, strength


def blendshape_targets(alignment: Alignment, num_frames: int, fps: float = FPS) -> np.ndarray:
    """(num_frames, 52) float32 mouth blendshapes in [0, 1] of an utterance's phone timeline, at each
    frame's start time (see the module docstring). Channels no viseme uses stay 0: the rest of the
    face (brows, eyes, blinks) and the head are not driven by the phones."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    phones = map_to_arpabet(alignment.phones, alignment.phone_set)
    if not phones:
        raise ValueError(f"alignment from {alignment.source} has no phones")
    vectors, strengths = zip(*(viseme_vector(p.phone) for p in phones))
    targets = np.stack(vectors)  # (phones, 52)
    centres = np.array([(p.start + p.end) / 2 for p in phones])
    durations = np.array([p.end - p.start for p in phones])
    spreads = np.maximum(SPREAD_FRACTION * durations, MIN_SPREAD_SEC)
    times = np.arange(num_frames) / fps
    distance = np.maximum(np.abs(times[:, None] - centres[None, :]) - durations[None, :] / 4, 0.0)
    # (frames, phones) dominance; subtracting each frame's largest exponent keeps exp() from
    # underflowing far from every phone, and cancels in the ratio.
    exponents = np.log(np.array(strengths)) - distance / spreads[None, :]
    dominance = np.exp(exponents - exponents.max(axis=1, keepdims=True))
    curves = dominance @ targets / dominance.sum(axis=1, keepdims=True)
    return np.clip(curves, 0.0, 1.0).astype(np.float32)
