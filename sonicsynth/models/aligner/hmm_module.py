"""The HMM aligner: a monophone GMM-HMM trained from a corpus's own transcripts, as MFA's first stage.

Topology: the phone loop of `phone_loop` with every phone split into `states_per_phone` left-to-right
states (3, as in Kaldi: onset, steady part, offset; so a phone lasts at least 30 ms) and a one-state
optional pause between words. Phones are tied across stress and tone (AH0/AH1/AH2 and ma1..ma4 share
states: alignment is about where a phone is, which these do not change); punctuation is never a phone,
and the pause uses the comma's class as in the neural aligner.

Emissions: a `StateGaussianMixtures` over Kaldi MFCCs + deltas (`KaldiMfcc`). Training is Viterbi EM
with a flat start, one Lightning epoch per EM iteration:

  epoch 0     each utterance split into equal parts per state (edge pauses included, inner pauses
              skipped); every state's single Gaussian estimated from its frames;
  epoch k > 0 Viterbi-align every utterance with the current model, re-estimate from that alignment.
              At the start of each epoch in `mixup_epochs` the states' components are doubled.

The model is re-estimated after the epoch's last training batch, before validation, so a checkpoint
holds the model its epoch produced and resuming continues exactly. The parameters are buffers
updated in closed form (no gradients). Validation reports the Viterbi log-likelihood per frame.
Single-device only (the statistics are not reduced across processes).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate

from sonicsynth.export.package import check_state_dict_matches, load_package, load_training_checkpoint
from sonicsynth.models.aligner.gmm import MixtureStatistics, StateGaussianMixtures
from sonicsynth.models.aligner.phone_loop import (
    PAUSE_CLASS,
    PhoneLoopBatch,
    batch_states,
    viterbi_paths,
)
from sonicsynth.models.packaging import PackageableModule
from sonicsynth.text.symbols import SYMBOLS

_STRESS_AND_TONE = re.compile(r"^[ˈˌ]+|\d+$")


def acoustic_units(symbols: list[str]) -> list[int]:
    """Tied unit of each symbol (stress marks and tone numbers removed); the pause is unit 0."""
    names = [_STRESS_AND_TONE.sub("", s) or s for s in symbols]
    units = {names[PAUSE_CLASS]: 0}
    for name in names:
        units.setdefault(name, len(units))
    return [units[name] for name in names]


class HMMAlignerLitModule(PackageableModule):
    family = "aligner/hmm"

    def __init__(
        self,
        mfcc: dict,
        symbols: list[str] | None = None,
        states_per_phone: int = 3,
        mixup_epochs: tuple[int, ...] = (3, 6, 9),
        min_component_frames: float = 20.0,
        variance_floor: float = 0.01,
        compatibility_id: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        # The symbol table is saved with the model: its classes are the table's indices.
        symbols = self.hparams.symbols = list(SYMBOLS) if symbols is None else symbols
        self.init_compatibility_id(compatibility_id)
        self.automatic_optimization = False
        self.features = instantiate(mfcc)
        units = acoustic_units(symbols)
        self.register_buffer("units", torch.tensor(units), persistent=False)
        num_states = 1 + max(units) * states_per_phone  # the pause has one state, every phone S
        self.mixtures = StateGaussianMixtures(num_states, self.features.dim)
        self.register_buffer("initialized", torch.tensor(False))
        # Relative variance floor times the variance of all training frames (set in the first epoch).
        self.register_buffer("variance_floor", torch.zeros(self.features.dim, dtype=torch.float64))
        self._statistics: MixtureStatistics | None = None
        self._all_frames = torch.zeros(3, self.features.dim, dtype=torch.float64)  # count, sum, sum of squares

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """No gradients: the updates are closed-form. But Lightning counts training progress in
        optimizer steps (checkpoint saving and resumption key on that count), so each batch takes one
        step of an optimizer over an empty parameter, which changes nothing."""
        return torch.optim.SGD([torch.nn.Parameter(torch.zeros(0))], lr=0.0)

    def state_ids(self, topology: PhoneLoopBatch) -> torch.Tensor:
        """(batch, states) mixture index of each topology state: 0 the pause, then S per tied phone."""
        units = self.units[topology.classes]
        return torch.where(units == 0, 0, 1 + (units - 1) * self.hparams.states_per_phone + topology.substates)

    def batch_features(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded (batch, frames, dim) features and the frame count of each item."""
        per_item = [self.features(audio[:length]) for audio, length in zip(batch["audio"], batch["audio_lengths"])]
        lengths = torch.tensor([len(f) for f in per_item], device=batch["audio"].device)
        return torch.nn.utils.rnn.pad_sequence(per_item, batch_first=True), lengths

    def topology(self, batch: dict[str, torch.Tensor]) -> PhoneLoopBatch:
        return batch_states(batch["phones"], batch["phones_lengths"], batch["word_phone_counts"],
                            batch["word_phone_counts_lengths"], self.hparams.states_per_phone)

    def emissions(self, features: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """(batch, frames, topology states) log-likelihoods; only the mixtures the batch uses are scored."""
        used, index = torch.unique(states, return_inverse=True)
        scores = self.mixtures(features.reshape(-1, features.shape[-1]), used).reshape(*features.shape[:2], -1)
        return scores.gather(2, index.unsqueeze(1).expand(-1, features.shape[1], -1))

    def align_batch(self, features: torch.Tensor, frames: torch.Tensor, topology: PhoneLoopBatch
                    ) -> tuple[list[list[int]], torch.Tensor]:
        """Viterbi paths over each item's topology states, and each path's log-likelihood."""
        emissions = self.emissions(features, self.state_ids(topology))
        paths = viterbi_paths(emissions, topology.optional, frames, topology.lengths)
        scores = torch.stack([emissions[i, torch.arange(len(p)), torch.tensor(p)].sum() for i, p in enumerate(paths)])
        return paths, scores

    @staticmethod
    def equal_paths(frames: torch.Tensor, topology: PhoneLoopBatch) -> list[list[int]]:
        """Flat start: frames shared equally among the states, inner pauses left out."""
        paths = []
        for count, length, optional in zip(frames.tolist(), topology.lengths.tolist(), topology.optional.tolist()):
            states = [s for s in range(length) if not optional[s] or s in (0, length - 1)]
            paths.append([states[t * len(states) // count] for t in range(count)])
        return paths

    def _feasible(self, frames: torch.Tensor, topology: PhoneLoopBatch) -> torch.Tensor:
        return topology.lengths - topology.optional.sum(dim=1) <= frames

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.optimizers().step()  # progress marker only, see configure_optimizers
        features, frames = self.batch_features(batch)
        topology = self.topology(batch)
        keep = self._feasible(frames, topology)  # an item with fewer frames than states has no path
        self.log("train/items_without_path", float((~keep).sum()), on_step=False, on_epoch=True, reduce_fx="sum")
        features, frames = features[keep], frames[keep]
        topology = PhoneLoopBatch(*(t[keep] for t in topology))
        if not len(frames):
            return
        if bool(self.initialized):
            paths, scores = self.align_batch(features, frames, topology)
            self.log("train/log_likelihood", scores.sum() / frames.sum(), prog_bar=True, on_step=False, on_epoch=True,
                     batch_size=len(frames))
        else:
            paths = self.equal_paths(frames, topology)
        ids = self.state_ids(topology)
        assigned = torch.cat([ids[i, torch.tensor(p, device=ids.device)] for i, p in enumerate(paths)])
        flat = torch.cat([features[i, : len(p)] for i, p in enumerate(paths)]).to(torch.float64)
        stats = self.mixtures.statistics(flat, assigned)
        self._statistics = stats if self._statistics is None else self._statistics + stats
        self._all_frames = self._all_frames.to(flat.device) + torch.stack([
            torch.full_like(flat[0], len(flat)), flat.sum(0), (flat**2).sum(0)])

    def on_train_epoch_start(self) -> None:
        self._statistics = None
        self._all_frames.zero_()
        if self.current_epoch in self.hparams.mixup_epochs and bool(self.initialized):
            self.mixtures.split(self.hparams.min_component_frames)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.trainer.is_last_batch:
            self.maximize()

    def maximize(self) -> None:
        """The M-step from the epoch's statistics (the variance floor is fixed in the first epoch)."""
        if self._statistics is None:
            raise RuntimeError("no training frames in this epoch: every utterance was too short for its phones")
        if not bool(self.initialized):
            count, total, squares = self._all_frames
            mean = total / count
            self.variance_floor = self.hparams.variance_floor * (squares / count - mean**2)
            # States the flat start saw no frames of begin as the global Gaussian.
            self.mixtures.means[:, 0] = mean
            self.mixtures.variances[:, 0] = squares / count - mean**2
        self.mixtures.update(self._statistics, self.variance_floor, self.hparams.min_component_frames)
        self.initialized = torch.tensor(True, device=self.initialized.device)
        self.log("train/components", float(torch.isfinite(self.mixtures.log_weights).sum()))

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        if not bool(self.initialized):
            return  # nothing to score before the first epoch's estimate (Lightning's sanity check)
        features, frames = self.batch_features(batch)
        topology = self.topology(batch)
        keep = self._feasible(frames, topology)
        if not bool(keep.any()):
            return
        _, scores = self.align_batch(features[keep], frames[keep], PhoneLoopBatch(*(t[keep] for t in topology)))
        self.log("val/log_likelihood", scores.sum() / frames[keep].sum(), prog_bar=True, batch_size=int(keep.sum()))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        # Mixing up changes the buffers' shapes; make room before Lightning loads the state dict.
        self.mixtures.resize(checkpoint["state_dict"]["mixtures.means"].shape[1])

    @classmethod
    def from_package_contents(cls, config: dict[str, Any], state_dict: dict[str, torch.Tensor],
                              origin: str | Path = "") -> HMMAlignerLitModule:
        """The trained model back from what `package_contents` exported (a package or a checkpoint)."""
        model = cls(mfcc=config["mfcc"], symbols=config["symbols"], states_per_phone=config["states_per_phone"])
        model.mixtures.resize(config["components"])
        check_state_dict_matches(model.mixtures, state_dict, origin)
        model.mixtures.load_state_dict(state_dict)
        model.initialized.fill_(True)
        return model.eval()

    @classmethod
    def load(cls, path: str | Path) -> HMMAlignerLitModule:
        """A trained HMM aligner from a package directory or a training checkpoint."""
        path = Path(path)
        if path.is_dir():
            package = load_package(path, family=cls.family)
            return cls.from_package_contents(package.config, package.state_dict, path)
        checkpoint = load_training_checkpoint(path)
        family = checkpoint.get("sonicsynth", {}).get("family") if isinstance(checkpoint, dict) else None
        if family != cls.family:
            raise ValueError(f"{path}: not an HMM aligner checkpoint (family {family!r}, expected {cls.family!r})")
        weights, config = cls.package_contents(checkpoint)
        return cls.from_package_contents(config, weights, origin=path)

    @torch.no_grad()
    def frame_classes(self, batch: dict[str, torch.Tensor]) -> tuple[list[torch.Tensor], float]:
        """Per item, the class (phone id, or the pause) of every feature frame on its Viterbi path
        (empty for an item with fewer frames than states); and the frame duration in seconds."""
        features, frames = self.batch_features(batch)
        topology = self.topology(batch)
        keep = self._feasible(frames, topology)
        classes = [torch.zeros(0, dtype=torch.long) for _ in range(len(frames))]
        if bool(keep.any()):
            kept = PhoneLoopBatch(*(t[keep] for t in topology))
            paths, _ = self.align_batch(features[keep], frames[keep], kept)
            for index, item_classes, path in zip(keep.nonzero()[:, 0].tolist(), kept.classes, paths, strict=True):
                classes[index] = item_classes[torch.tensor(path, device=item_classes.device)].cpu()
        return classes, self.features.frame_sec

    @classmethod
    def package_contents(cls, checkpoint: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        hp = checkpoint["hyper_parameters"]
        weights = cls.submodule_weights(checkpoint, "mixtures.")
        return weights, {"mfcc": hp["mfcc"], "symbols": hp["symbols"],
                         "states_per_phone": hp["states_per_phone"], "components": weights["means"].shape[1]}
