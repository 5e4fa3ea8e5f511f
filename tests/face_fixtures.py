"""Drawn talking faces for tests of the face and lip-sync code."""

from __future__ import annotations

import numpy as np

from sonicsynth.models.face.blendshapes import NUM_BLENDSHAPES, blendshape_index
from sonicsynth.models.face.procedural_face import FaceStyle, render_frame


def drawn_face(style: FaceStyle, jaw_open: float) -> np.ndarray:
    """A 224 x 224 BGR frame of the drawn face, frontal, with the jaw open by `jaw_open` (0-1)."""
    weights = np.zeros(NUM_BLENDSHAPES, dtype=np.float32)
    weights[blendshape_index("jawOpen")] = jaw_open
    return render_frame(style, weights, np.zeros(6))
