"""The semantic GPT (GPT-SoVITS "s1"): phones (+ BERT features) -> semantic tokens, autoregressively.

One decoder-only transformer reads the sequence [phones ; semantic tokens]:

    phone ids --ar_text_embedding--> + bert_proj(BERT features) --ar_text_position--> phone states
    token ids --ar_audio_embedding--> --ar_audio_position--> token states
    [phone states ; token states] --h (post-norm transformer)--> --ar_predict_layer--> next-token logits

The attention mask makes it a prefix LM: phones attend to all phones (not to tokens), tokens attend to
all phones and causally to tokens. Each stream has its own positions counted from 0, so a batch laid
out as [phones padded to the longest ; tokens padded to the longest] is exact: padding only has to
be hidden as keys.

The token vocabulary is the SoVITS codebook (1024 codes) plus an end-of-speech id right after it
(1024), which the model predicts after the last token. Attribute names are those of the published
checkpoints (`sonicsynth.models.gpt.published` loads them without renaming).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sonicsynth.models.gpt.dpo import IGNORE_INDEX, dpo_loss, make_rejected_tokens, sequence_log_probs
from sonicsynth.models.gpt.embedding import ScaledSinePositions, TokenEmbedding
from sonicsynth.models.gpt.transformer import TransformerStack
from sonicsynth.text.symbols import SYMBOLS


@dataclass
class GPTTrainingOutput:
    """What one training forward pass gives the training module."""

    loss: torch.Tensor  # scalar: ce_loss (+ dpo_loss when requested)
    ce_loss: torch.Tensor  # scalar: cross-entropy summed over every next-token target of the batch
    accuracy: torch.Tensor  # scalar: top-k accuracy over the targets that are not end-of-speech
    num_targets: torch.Tensor  # scalar (long): targets in ce_loss, i.e. the sum of (token lengths + 1)
    logits: torch.Tensor  # (batch, tokens + 1, vocab), see `SemanticGPT.training_logits`
    dpo_loss: torch.Tensor | None = None  # scalar, when the DPO term was requested


def lengths_to_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """(batch, max_length) bool, True at the first `lengths[b]` positions of row b."""
    return torch.arange(max_length, device=lengths.device) < lengths.unsqueeze(1)


def prefix_lm_mask(phone_lengths: torch.Tensor, token_lengths: torch.Tensor, num_phones: int,
                   num_tokens: int) -> torch.Tensor:
    """Attention mask (batch, 1, S, S), S = num_phones + num_tokens, True where a query may attend.

    Layout [phones padded to num_phones ; tokens padded to num_tokens]. Phone queries see the valid
    phones; token queries see the valid phones and the valid tokens up to and including their own.
    Padded queries get the same structure, so no row is ever fully masked (outputs there are unused).
    """
    total = num_phones + num_tokens
    index = torch.arange(total, device=phone_lengths.device)
    key_is_phone = index < num_phones
    query_is_token = ~key_is_phone
    structure = key_is_phone.unsqueeze(0) | (query_is_token.unsqueeze(1) & (index.unsqueeze(0) <= index.unsqueeze(1)))
    key_valid = torch.cat(
        [lengths_to_mask(phone_lengths, num_phones), lengths_to_mask(token_lengths, num_tokens)], dim=1
    )
    return (structure.unsqueeze(0) & key_valid.unsqueeze(1)).unsqueeze(1)


def last_position(phone_lengths: torch.Tensor, token_lengths: torch.Tensor, num_phones: int) -> torch.Tensor:
    """(batch,) index of each item's last valid position in the [phones ; tokens] layout."""
    return torch.where(token_lengths > 0, num_phones + token_lengths - 1, phone_lengths - 1)


class SemanticGPT(nn.Module):
    """The s1 network; see the module docstring.

    phone_vocab_size: size of the phone table; None = sonicsynth's symbol table (the published
        v2 model has 732, the GPT-SoVITS v2 table: its checkpoints need 732).
    codebook_size: semantic codes of the SoVITS quantizer; the end-of-speech id is codebook_size.
    bert_dim: width of the BERT features added to the phones (1024: chinese-roberta-wwm-ext-large).
    dropout: attention and feed-forward dropout of every layer; position_dropout after adding the
        positions; embedding_dropout on the table lookups. The published recipe uses 0.1, 0.1 and 0
        (its config's `dropout: 0` is the embedding dropout; the layers' 0.1 is fixed in its code).
    dpo_beta: scale of the preference margin in the optional DPO term (0.2 in the published recipe).
    accuracy_top_k: a target counts as hit when it is among the k most likely tokens (3, as logged
        by the published recipe).
    """

    def __init__(
        self,
        phone_vocab_size: int | None = None,
        dim: int = 512,
        heads: int = 16,
        num_layers: int = 24,
        ffn_dim: int = 2048,
        codebook_size: int = 1024,
        bert_dim: int = 1024,
        dropout: float = 0.1,
        position_dropout: float = 0.1,
        embedding_dropout: float = 0.0,
        dpo_beta: float = 0.2,
        accuracy_top_k: int = 3,
    ) -> None:
        super().__init__()
        self.phone_vocab_size = len(SYMBOLS) if phone_vocab_size is None else phone_vocab_size
        self.dim, self.heads, self.num_layers, self.ffn_dim = dim, heads, num_layers, ffn_dim
        self.codebook_size = codebook_size
        self.eos_id = codebook_size
        self.vocab_size = codebook_size + 1
        self.bert_dim = bert_dim
        self.dpo_beta = dpo_beta
        self.accuracy_top_k = accuracy_top_k

        self.bert_proj = nn.Linear(bert_dim, dim)
        self.ar_text_embedding = TokenEmbedding(self.phone_vocab_size, dim, embedding_dropout)
        self.ar_text_position = ScaledSinePositions(dim, position_dropout)
        self.ar_audio_embedding = TokenEmbedding(self.vocab_size, dim, embedding_dropout)
        self.ar_audio_position = ScaledSinePositions(dim, position_dropout)
        self.h = TransformerStack(dim, heads, ffn_dim, num_layers, dropout)
        self.ar_predict_layer = nn.Linear(dim, self.vocab_size, bias=False)

    # -------------------------------------------------------------------------------------- inputs

    def embed_phones(self, phone_ids: torch.Tensor, bert_features: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, phones, dim) phone states with positions 0..phones-1.

        bert_features: (batch, bert_dim, phones), one vector per phone (channels first, as the SoVITS
        side lays out features), or None for zeros, which adds bert_proj's bias alone, exactly as
        projecting zero features does (the published tools feed zeros for languages without BERT).
        """
        x = self.ar_text_embedding(phone_ids)
        if bert_features is None:
            x = x + self.bert_proj.bias.to(x.dtype)
        else:
            expected = (phone_ids.shape[0], self.bert_dim, phone_ids.shape[1])
            if tuple(bert_features.shape) != expected:
                raise ValueError(
                    f"bert_features must be (batch, {self.bert_dim}, phones) = {expected}, "
                    f"got {tuple(bert_features.shape)}"
                )
            x = x + self.bert_proj(bert_features.transpose(1, 2).to(x.dtype))
        return self.ar_text_position(x)

    def embed_tokens(self, tokens: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, length, dim) token states; positions (batch, length) default to 0..length-1."""
        return self.ar_audio_position(self.ar_audio_embedding(tokens), positions)

    def _check_inputs(self, phone_ids: torch.Tensor, phone_lengths: torch.Tensor, tokens: torch.Tensor,
                      token_lengths: torch.Tensor) -> None:
        batch = phone_ids.shape[0]
        if phone_ids.ndim != 2 or tokens.ndim != 2 or tokens.shape[0] != batch:
            raise ValueError(
                f"phone_ids and tokens must be (batch, length) with one batch size, got "
                f"{tuple(phone_ids.shape)} and {tuple(tokens.shape)}"
            )
        if phone_lengths.shape != (batch,) or token_lengths.shape != (batch,):
            raise ValueError(f"phone_lengths and token_lengths must be ({batch},)")
        if int(phone_lengths.min()) < 1:
            raise ValueError("every item needs at least one phone (phone_lengths >= 1)")
        if int(phone_lengths.max()) > phone_ids.shape[1] or int(token_lengths.max()) > tokens.shape[1]:
            raise ValueError("a length exceeds the padded width of its tensor")

    # ------------------------------------------------------------------------------------- forward

    def hidden_states(
        self,
        phone_ids: torch.Tensor,
        phone_lengths: torch.Tensor,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
        bert_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Transformer output (batch, phones + tokens, dim) over [phones ; tokens] in one pass.

        phone_ids (batch, phones) and tokens (batch, tokens) are right-padded to their lengths; the
        values at padded positions are ignored. Token lengths may be 0 (no prompt).
        """
        self._check_inputs(phone_ids, phone_lengths, tokens, token_lengths)
        num_phones, num_tokens = phone_ids.shape[1], tokens.shape[1]
        safe_tokens = tokens.masked_fill(~lengths_to_mask(token_lengths, num_tokens), 0)
        x = torch.cat([self.embed_phones(phone_ids, bert_features), self.embed_tokens(safe_tokens)], dim=1)
        return self.h(x, prefix_lm_mask(phone_lengths, token_lengths, num_phones, num_tokens))

    def token_logits(
        self,
        phone_ids: torch.Tensor,
        phone_lengths: torch.Tensor,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
        bert_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Next-token logits (batch, tokens, vocab): position t predicts the token after tokens[:, t]."""
        hidden = self.hidden_states(phone_ids, phone_lengths, tokens, token_lengths, bert_features)
        return self.ar_predict_layer(hidden[:, phone_ids.shape[1]:])

    def next_token_logits(
        self,
        phone_ids: torch.Tensor,
        phone_lengths: torch.Tensor,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
        bert_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (batch, vocab) of the token that follows each item's sequence: read at its last
        token, or at its last phone when it has no tokens yet."""
        hidden = self.hidden_states(phone_ids, phone_lengths, tokens, token_lengths, bert_features)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return self.ar_predict_layer(hidden[rows, last_position(phone_lengths, token_lengths, phone_ids.shape[1])])

    def training_logits(
        self,
        phone_ids: torch.Tensor,
        phone_lengths: torch.Tensor,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
        bert_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Teacher-forced logits (batch, tokens + 1, vocab): position 0 is read at the last phone and
        predicts the first token; position t + 1 is read at tokens[:, t] and predicts the one after.

        The published recipe only trains the second kind, so its first token is only ever predicted
        after a reference prompt; training the first as well makes reference-free decoding (which
        starts at the last phone) start from a trained position. Published weights are unaffected.
        """
        hidden = self.hidden_states(phone_ids, phone_lengths, tokens, token_lengths, bert_features)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        at_last_phone = hidden[rows, phone_lengths - 1].unsqueeze(1)
        return self.ar_predict_layer(torch.cat([at_last_phone, hidden[:, phone_ids.shape[1]:]], dim=1))

    def training_targets(self, tokens: torch.Tensor, token_lengths: torch.Tensor) -> torch.Tensor:
        """(batch, tokens + 1) targets of `training_logits`: the tokens, end-of-speech after the last,
        IGNORE_INDEX past it."""
        targets = F.pad(tokens, (0, 1), value=self.eos_id).clone()
        rows = torch.arange(tokens.shape[0], device=tokens.device)
        targets[rows, token_lengths] = self.eos_id
        return targets.masked_fill(~lengths_to_mask(token_lengths + 1, targets.shape[1]), IGNORE_INDEX)

    def forward(
        self,
        phone_ids: torch.Tensor,
        phone_lengths: torch.Tensor,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
        bert_features: torch.Tensor | None = None,
        dpo: bool = False,
        generator: torch.Generator | None = None,
    ) -> GPTTrainingOutput:
        """Training pass: summed next-token cross-entropy over [tokens..., end-of-speech] of each item.

        The loss is a sum, not a mean, as in the published recipe: longer utterances weigh more.
        Unlike that recipe, padding positions carry no target (it trained them to predict
        end-of-speech). `dpo` adds the preference term of `sonicsynth.models.gpt.dpo` (a second pass
        over corrupted copies of the tokens, drawn from `generator`).
        """
        if int(token_lengths.min()) < 1:
            raise ValueError("every training item needs at least one semantic token (token_lengths >= 1)")
        logits = self.training_logits(phone_ids, phone_lengths, tokens, token_lengths, bert_features)
        targets = self.training_targets(tokens, token_lengths)
        ce_loss = F.cross_entropy(
            logits.float().transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="sum"
        )
        accuracy = self.top_k_accuracy(logits.detach(), targets)
        num_targets = (targets != IGNORE_INDEX).sum()
        loss, preference = ce_loss, None
        if dpo:
            rejected, rejected_lengths = make_rejected_tokens(tokens, token_lengths, generator)
            rejected_logits = self.training_logits(phone_ids, phone_lengths, rejected, rejected_lengths, bert_features)
            chosen_logp = sequence_log_probs(logits, targets)
            rejected_logp = sequence_log_probs(rejected_logits, self.training_targets(rejected, rejected_lengths))
            preference = dpo_loss(chosen_logp, rejected_logp, self.dpo_beta)
            loss = loss + preference
        return GPTTrainingOutput(loss, ce_loss, accuracy, num_targets, logits, preference)

    def top_k_accuracy(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Share of targets among the `accuracy_top_k` most likely tokens, end-of-speech targets left
        out (as the published recipe logs it, so the numbers compare); 0 when no target is left."""
        counted = (targets != IGNORE_INDEX) & (targets != self.eos_id)
        k = min(self.accuracy_top_k, logits.shape[-1])
        top = logits.topk(k, dim=-1).indices
        hits = (top == targets.unsqueeze(-1)).any(dim=-1) & counted
        return hits.sum().float() / counted.sum().clamp(min=1).float()
