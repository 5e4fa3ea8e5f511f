"""Training of the semantic GPT (GPT-SoVITS "s1") as a LightningModule: phones -> semantic tokens.

Each batch (from `SpeechDataModule` with the `SemanticTokenFeature` of a trained SoVITS model and no
audio) holds phone ids and the semantic tokens the SoVITS model extracted from the recording. The
network predicts every next token after the phones, then end-of-speech; the loss is the cross-entropy
summed over those targets (as published: longer utterances weigh more), plus, optionally, the
preference term of `sonicsynth.models.gpt.dpo` (`dpo: true`), logged apart.

Optimisation: AdamW with decoupled weight decay on the matrices only (biases, layer norms and the
position scales are left alone), a linear warm-up then cosine decay applied at every optimizer step
(so gradient accumulation counts optimizer steps), gradient clipping from the trainer config.

The GPT belongs to the SoVITS model whose tokens it reads: when training starts it records the token
feature's record (`token_source`: that model's compatibility id and the hash of its token weights) and
how the phone ids were made (`text_settings`), takes the token source's compatibility id as its own,
and refuses a fine-tuning start (`init_from`) or a resumed checkpoint trained on other tokens (or, for
a start, on phone ids of another symbol table), and data whose phones or tokens its tables cannot hold.

Randomness of a step (dropout; the corrupted copies of the DPO term) comes from generators seeded by
(seed, epoch, batch index, rank), so the same seed gives the same run and a run resumed from an
end-of-epoch checkpoint reproduces the uninterrupted one exactly.

Validation reports the per-token cross-entropy (`val/ce_per_token`) and top-k accuracy
(`val/top3_acc`), and returns each batch's item ids, phones and tokens for callbacks. The recipes
choose checkpoints by `val/cer`, the intelligibility of validation sentences spoken through the
tokens' SoVITS model (`sonicsynth.models.gpt.intelligibility`), where the speaker's language has a
recogniser.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from sonicsynth.data.semantic_tokens import TOKEN_IDENTITY, TOKENS_NAME
from sonicsynth.export.package import CompatibilityError
from sonicsynth.models.gpt.model import GPTTrainingOutput, SemanticGPT
from sonicsynth.models.packaging import PackageableModule
from sonicsynth.nn.schedules import warmup_cosine
from sonicsynth.text.symbols import SYMBOLS
from sonicsynth.utils.seeding import fork_global_rng, step_seed

log = logging.getLogger(__name__)


@dataclass
class GPTInputs:
    """One batch as the network reads it."""

    ids: list[str]
    phones: torch.Tensor  # (batch, phones), right-padded
    phone_lengths: torch.Tensor  # (batch,)
    tokens: torch.Tensor  # (batch, tokens), right-padded
    token_lengths: torch.Tensor  # (batch,)
    bert: torch.Tensor | None = None  # (batch, bert_dim, phones) per-phone BERT features, or None (zeros)


class GPTLitModule(PackageableModule):
    family = "gpt"
    package_prefix = "net."  # a package holds the network's state dict

    def __init__(
        self,
        net: dict,
        bert: dict | None = None,
        token_source: dict | None = None,
        text_settings: dict | None = None,
        # AdamW for a 24-layer post-norm transformer. Post-norm stacks this deep diverge early under
        # large updates, so the peak is moderate and reached after a warm-up: 1e-4 is the rate at which
        # 24-layer post-norm encoders (BERT-large) are trained with Adam; beta2 0.98 rather than 0.999
        # lets the second moments follow the fast-changing gradient scale of the first thousands of
        # steps (the usual transformer setting); 0.01 decoupled weight decay on the matrices.
        learning_rate: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        # Warm-up over the published recipe's 2000 optimizer steps, then cosine decay to 10% of the
        # peak at the end of the run (a run continued past its schedule still learns).
        warmup_steps: int = 2000,
        final_lr_ratio: float = 0.1,
        dpo: bool = False,
        seed: int = 0,
        compatibility_id: str | None = None,
    ) -> None:
        """net: `_target_` config of a `SemanticGPT`. bert: `_target_` config of the per-phone BERT
        features added to the phones (`sonicsynth.text.bert_features.PhoneBertFeatures` over a local
        model directory; computed from each batch's words on the model's device), or None for zeros.
        token_source: the record of the semantic-token
        feature the GPT reads ({"config", "name", "settings"}); text_settings: what makes the phone ids
        (`speech_datamodule.text_settings`). Both are recorded from the datamodule when training
        starts (see `setup`) and travel with checkpoints and packages; set them only for a datamodule
        that does not report them. dpo: add the preference term to the loss. seed: of every random
        draw of a training step (dropout, DPO corruptions)."""
        super().__init__()
        self.save_hyperparameters()
        self.init_compatibility_id(compatibility_id)
        self.net: SemanticGPT = instantiate(net)
        if not isinstance(self.net, SemanticGPT):
            raise TypeError(f"model.net must build a SemanticGPT, got {type(self.net).__name__}")
        # The frozen text encoder is not a submodule: its weights stay in its own directory, out of
        # checkpoints and packages (which record its config).
        self.bert = instantiate(bert, _convert_="all") if bert else None
        if self.bert is not None and self.bert.dim != self.net.bert_dim:
            raise ValueError(f"the BERT model {self.bert.model_dir} gives {self.bert.dim}-d features, the GPT's "
                             f"bert_proj reads {self.net.bert_dim} (model.net.bert_dim)")
        if self.bert is None:
            # Without BERT features the phones get bert_proj's bias alone, and its weight no gradient.
            # Frozen, it is neither decayed by AdamW (a published start keeps its trained projection)
            # nor reported unused by DDP.
            self.net.bert_proj.weight.requires_grad_(False)
        # Where a fine-tuning start came from, and the token source and text settings it recorded
        # (see on_initial_weights).
        self._start: tuple[Path, dict | None, dict | None] | None = None

    # ------------------------------------------------------------------ set-up and checks
    @property
    def accuracy_name(self) -> str:
        return f"top{self.net.accuracy_top_k}_acc"

    def on_initial_weights(self, path: Path, recorded: Mapping[str, Any]) -> None:
        self._start = (Path(path), _plain(recorded.get("token_source")), _plain(recorded.get("text_settings")))

    def setup(self, stage: str) -> None:
        """Record the token source and the phone ids' settings from the datamodule (set up first),
        take the token source's compatibility id, and refuse what does not fit (see the module
        docstring) before any step runs."""
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        text = getattr(datamodule, "text_settings", None)
        if text is not None:
            text = self.hparams.text_settings = _plain(text)
            if self._start is not None and self._start[2] is not None:
                require_same_phone_table(self._start[2], text, f"init_from={self._start[0]}")
        record = (getattr(datamodule, "feature_records", None) or {}).get(TOKENS_NAME)
        if record is None:
            return
        record = _plain(record)
        self.check_token_table(record)
        if self._start is not None:
            path, started_on, _ = self._start
            if started_on is None:
                log.warning("init_from=%s records no token source: cannot check that it was trained on the tokens of "
                            "%s", path, _token_model(record))
            else:
                require_same_tokens(started_on, record, f"init_from={path} is a GPT that")
        self.hparams.token_source = record
        compatibility_id = record.get("settings", {}).get("compatibility_id")
        if compatibility_id:
            # The GPT belongs to the SoVITS run whose tokens it reads.
            self.hparams.compatibility_id = compatibility_id
        if datamodule is not None:
            self.check_phone_table(datamodule)

    def check_token_table(self, record: Mapping[str, Any]) -> None:
        """Refuse tokens from a codebook of another size than the network's token table (codebook +
        end-of-speech): a smaller table cannot hold them, a larger one would let the GPT predict codes
        its SoVITS model does not have."""
        settings = record.get("settings", {})
        codebook_size, codebooks = settings.get("codebook_size"), settings.get("codebooks", 1)
        where = f"the semantic tokens of {_token_model(record)}"
        if codebooks != 1:
            raise ValueError(f"{where} have {codebooks} codebooks; the GPT predicts one token stream")
        if codebook_size is not None and codebook_size != self.net.codebook_size:
            raise ValueError(
                f"{where} come from a {codebook_size}-code codebook, but the GPT's token table holds "
                f"{self.net.codebook_size} codes (model.net.codebook_size): set it to {codebook_size}"
            )

    def check_phone_table(self, datamodule: Any) -> None:
        """Refuse data whose phone ids the network's phone table cannot hold (one pass over the
        datamodule's items, which hold their ids in memory)."""
        items = [*getattr(getattr(datamodule, "train_set", None), "items", []),
                 *getattr(getattr(datamodule, "val_set", None), "items", [])]
        worst = max(items, key=lambda item: max(item.phone_ids, default=-1), default=None)
        if worst is None or not worst.phone_ids:
            return
        largest = max(worst.phone_ids)
        if largest >= self.net.phone_vocab_size:
            manifest = getattr(datamodule, "hparams", {}).get("manifest", "the data")
            symbol = f" ({SYMBOLS[largest]!r})" if largest < len(SYMBOLS) else ""
            raise ValueError(
                f"{manifest}: utterance {worst.utterance.id!r} has phone id {largest}{symbol}, outside the GPT's "
                f"phone table of {self.net.phone_vocab_size} (model.net.phone_vocab_size); the data's symbol table "
                f"has {len(SYMBOLS)} symbols: set phone_vocab_size to null (this table) or to {largest + 1} or more"
            )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Resuming: the checkpoint must have been trained on the tokens this run reads."""
        super().on_load_checkpoint(checkpoint)
        saved = (checkpoint.get("hyper_parameters") or {}).get("token_source")
        current = self.hparams.get("token_source")
        if saved is not None and current is not None:
            path = getattr(self._trainer, "ckpt_path", None) if self._trainer is not None else None
            where = f"the checkpoint resumed from ({path})" if path else "the checkpoint resumed from"
            require_same_tokens(_plain(saved), _plain(current), f"{where} is a GPT that")

    # ------------------------------------------------------------------ inputs
    def prepare_inputs(self, batch: Mapping[str, Any]) -> GPTInputs:
        """The batch's phones and tokens, checked against the network's tables."""
        if TOKENS_NAME not in batch:
            present = sorted(k for k, v in batch.items() if isinstance(v, torch.Tensor))
            raise KeyError(
                f"the batch has no {TOKENS_NAME!r} (fields present: {present}); list the SemanticTokenFeature "
                f"under data.features (configs/data/gpt_demo.yaml)"
            )
        tokens, token_lengths = batch[TOKENS_NAME], batch[f"{TOKENS_NAME}_lengths"]
        if tokens.dim() == 3:  # (batch, codebooks, tokens) as the cache stores them
            if tokens.shape[1] != 1:
                raise ValueError(f"semantic tokens have {tokens.shape[1]} codebooks; the GPT predicts one token stream")
            tokens = tokens[:, 0]
        phones, phone_lengths = batch["phones"], batch["phones_lengths"]
        ids = list(batch.get("id", []))
        for name, values, limit, what in (
            ("phone", phones, self.net.phone_vocab_size, "phone table (model.net.phone_vocab_size)"),
            ("semantic token", tokens, self.net.codebook_size, "codebook (model.net.codebook_size)"),
        ):
            if not values.numel():
                continue
            largest, smallest = int(values.max()), int(values.min())
            if largest >= limit or smallest < 0:
                bad = largest if largest >= limit else smallest
                row = int(((values >= limit) | (values < 0)).any(dim=-1).nonzero()[0])
                item = f" of utterance {ids[row]!r}" if row < len(ids) else ""
                raise ValueError(f"{name} id {bad}{item} is outside the GPT's {what} of {limit} ids")
        bert = self.bert_features(batch, phones.shape[1]) if self.bert is not None else None
        return GPTInputs(ids, phones, phone_lengths, tokens.long(), token_lengths, bert)

    def bert_features(self, batch: Mapping[str, Any], num_phones: int) -> torch.Tensor:
        """(batch, bert_dim, phones) BERT features of the batch's sentences, zero-padded."""
        if self.bert.device != self.device:  # the module moved (to the accelerator) since it was built
            self.bert.to(self.device)
        counts, count_lengths = batch["word_phone_counts"], batch["word_phone_counts_lengths"]
        out = torch.zeros(len(batch["words"]), self.bert.dim, num_phones, device=self.device)
        for i, (words, language) in enumerate(zip(batch["words"], batch["language"])):
            item = self.bert(words, counts[i, : int(count_lengths[i])].tolist(), language)
            out[i, :, : item.shape[1]] = torch.from_numpy(item).to(self.device)
        return out

    # ------------------------------------------------------------------ training
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        decay, no_decay = [], []
        for parameter in self.net.parameters():
            if parameter.requires_grad:
                (decay if parameter.ndim >= 2 else no_decay).append(parameter)
        optimizer = torch.optim.AdamW(
            [{"name": "decay", "params": decay, "weight_decay": hp.weight_decay},
             {"name": "no_decay", "params": no_decay, "weight_decay": 0.0}],
            lr=hp.learning_rate, betas=tuple(hp.betas), eps=hp.eps,
        )  # fmt: skip
        total = self.trainer.estimated_stepping_batches
        if total == float("inf"):
            raise ValueError("the learning-rate schedule needs the run's length: set trainer.max_epochs or trainer.max_steps")
        total = int(total)
        warmup = hp.warmup_steps
        if warmup >= total:
            warmup = max(1, total // 10)
            log.warning("model.warmup_steps %d >= the run's %d optimizer steps: warming up over the first %d instead",
                        hp.warmup_steps, total, warmup)
        factor = warmup_cosine(total, warmup, final=hp.final_lr_ratio)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}

    @contextmanager
    def step_randomness(self, batch_idx: int) -> Iterator[torch.Generator]:
        """Seed everything random in a training step from (seed, epoch, batch index, rank): torch's
        global generators (dropout) inside a fork that restores them afterwards, and a CPU generator
        (yielded) for the DPO term's corruptions."""
        parts = (self.hparams.seed, self.current_epoch, batch_idx, self.global_rank)
        with fork_global_rng(step_seed(*parts, 0), self.device):
            yield torch.Generator().manual_seed(step_seed(*parts, 1))

    def forward_batch(self, inputs: GPTInputs, dpo: bool = False, generator: torch.Generator | None = None
                      ) -> GPTTrainingOutput:
        return self.net(inputs.phones, inputs.phone_lengths, inputs.tokens, inputs.token_lengths, inputs.bert,
                        dpo=dpo, generator=generator)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        inputs = self.prepare_inputs(batch)
        with self.step_randomness(batch_idx) as generator:
            out = self.forward_batch(inputs, dpo=self.hparams.dpo, generator=generator)
        batch_size = inputs.tokens.shape[0]
        per_token = out.ce_loss.detach() / out.num_targets.clamp(min=1)
        metrics = {"train/loss": out.loss, "train/ce": out.ce_loss, "train/ce_per_token": per_token,
                   f"train/{self.accuracy_name}": out.accuracy}
        if out.dpo_loss is not None:
            metrics["train/dpo"] = out.dpo_loss
        self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=batch_size)
        self.log("ce_per_token", per_token, prog_bar=True, logger=False, batch_size=batch_size)
        return out.loss

    # ------------------------------------------------------------------ validation
    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Per-token cross-entropy and top-k accuracy of the batch, logged as epoch means weighted by
        their targets (so the epoch value is over all the tokens, not a mean of batch means).

        Returns the batch's item ids, phones and tokens (with lengths) beside the loss, for callbacks
        that decode and score the validation sentences in `on_validation_batch_end`."""
        inputs = self.prepare_inputs(batch)
        out = self.forward_batch(inputs)
        targets = int(out.num_targets)
        per_token = out.ce_loss / max(1, targets)
        # Accuracy leaves the end-of-speech targets (one per item) out.
        scored = max(1, targets - inputs.tokens.shape[0])
        self.log("val/ce_per_token", per_token, prog_bar=True, on_epoch=True, batch_size=max(1, targets), sync_dist=True)
        self.log(f"val/{self.accuracy_name}", out.accuracy, on_epoch=True, batch_size=scored, sync_dist=True)
        return {"loss": per_token, "ids": inputs.ids, "phones": inputs.phones, "phone_lengths": inputs.phone_lengths,
                "tokens": inputs.tokens, "token_lengths": inputs.token_lengths}

    # ------------------------------------------------------------------ export
    @classmethod
    def package_contents(cls, checkpoint: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """What an exported GPT needs: the network's weights, the config that rebuilds it, the token
        source it was trained on (which SoVITS model's tokens it predicts), how its phone ids are
        made (None when they were not recorded) and the BERT features it reads (None: zeros)."""
        hp = checkpoint["hyper_parameters"]
        config = {
            "net": _plain(hp["net"]),
            "token_source": _plain(hp.get("token_source")),
            "text_settings": _plain(hp.get("text_settings")),
            "bert": _plain(hp.get("bert")),
        }
        return cls.submodule_weights(checkpoint, cls.package_prefix), config


def require_same_tokens(trained_on: Mapping[str, Any], current: Mapping[str, Any], what: str) -> None:
    """Refuse a GPT trained on other semantic tokens than `current` (both token-feature records):
    another SoVITS compatibility id, or other token weights. `what` starts the message."""
    before, now = trained_on.get("settings", {}), current.get("settings", {})
    for name in TOKEN_IDENTITY:
        if before.get(name) != now.get(name):
            raise CompatibilityError(
                f"{what} was trained on the semantic tokens of {_token_model(trained_on)} ({name} {before.get(name)!r}); "
                f"this run's tokens come from {_token_model(current)} ({name} {now.get(name)!r}): the same token ids "
                "mean other sounds. Extract the tokens with the SoVITS model the GPT was trained on (or one fine-tuned "
                "from it with its quantizer frozen), or train the GPT without init_from"
            )


def require_same_phone_table(trained_with: Mapping[str, Any], current: Mapping[str, Any], what: str) -> None:
    """Refuse a start whose phone ids come from another symbol table than this run's: the same ids
    would name other phones. Other front-end differences (e.g. its settings) are only reported."""
    before, now = trained_with.get("symbol_table_version"), current.get("symbol_table_version")
    if before != now:
        raise CompatibilityError(
            f"{what} was trained on phone ids of symbol table version {before!r}; this run's phone ids come from "
            f"version {now!r} (sonicsynth.text.symbols): the same ids name other phones"
        )
    if dict(trained_with) != dict(current):
        log.warning("%s was trained with other text settings (%s) than this run's (%s)", what, trained_with, current)


def _token_model(record: Mapping[str, Any]) -> str:
    """The SoVITS model a token-feature record names (its path as configured)."""
    model = (record.get("config") or {}).get("model")
    return f"the SoVITS model {model}" if model else "a SoVITS model"


def _plain(value: Any) -> Any:
    """Plain dicts and lists (what checkpoints loaded with weights_only and package configs hold)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
