"""Learning-rate schedules shared by the model families, as factors of the optimizer's base rate per
optimizer step (for `torch.optim.lr_scheduler.LambdaLR` with Lightning's `interval: step`, so with
gradient accumulation a step is an optimizer step, not a batch).

Plain functions of the step rather than torch's OneCycleLR/CosineAnnealingLR: torch's one-cycle keeps
its peak in the optimizer's param groups, so two cannot be chained, and a closure holds no state of its
own (LambdaLR saves only its step count), so resuming from a checkpoint restores the schedule exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def warmup_cosine(total_steps: int, warmup_steps: int, start: float = 0.04, final: float = 0.0) -> Callable[[int], float]:
    """Factor per step: linear warm-up from `start` to 1 over `warmup_steps` steps, then cosine decay
    from 1 to `final` at `total_steps`; `final` after that. Step 0 is the first optimizer step.

    Why a warm-up: Adam's second-moment estimates are noise over the first steps, and full-size
    updates then can wreck a freshly initialised network (post-norm transformers above all).
    """
    if total_steps < 1 or warmup_steps < 0:
        raise ValueError(f"warmup_cosine needs total_steps >= 1 and warmup_steps >= 0, got {total_steps}, {warmup_steps}")
    rise = max(1, min(warmup_steps, total_steps))

    def factor(step: int) -> float:
        if step >= total_steps:
            return final
        if step < rise:
            return start + (1.0 - start) * step / rise
        progress = (step - rise) / max(1, total_steps - rise)
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def phase_one_cycle(phases: list[tuple[float, int]], warmup: float = 0.1) -> Callable[[int], float]:
    """Factor per step for phases of (peak factor, steps), each its own one-cycle: linear warm-up from
    peak/25 over `warmup` of its steps, then cosine annealing towards zero; 0 after the last phase.
    (The aligner's CTC, teacher and phone-loop phases each warm up and anneal afresh.)"""
    cycles = [(peak, steps, warmup_cosine(steps, round(warmup * steps))) for peak, steps in phases if steps > 0]

    def factor(step: int) -> float:
        for peak, steps, cycle in cycles:
            if step < steps:
                return peak * cycle(step)
            step -= steps
        return 0.0

    return factor
