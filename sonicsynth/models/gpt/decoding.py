"""Autoregressive decoding of semantic tokens from a `SemanticGPT`.

The prompt is the phones of reference + target text (with their BERT features) and the reference
audio's semantic tokens; decoding continues the tokens until end-of-speech. Two paths give the same
tokens:

- `use_cache=True`: one pass over the prompt fills a key/value cache, then each step runs the
  transformer on the newest token only. The cache keeps the prompt's padded layout
  [phones padded ; prompt tokens padded ; generated tokens], with padded slots hidden as keys and each
  generated token placed at its own item's next position, so items with different prompt lengths
  share one batch exactly.
- `use_cache=False`: each step recomputes the whole sequence from scratch. Quadratically slower; it is
  the reference the cache is tested and benchmarked against.

Sampling follows the published GPT-SoVITS sampler, in its order: repetition penalty on every token
seen so far (the prompt's and the generated ones: a logit l of a seen token becomes l / penalty if
positive, l * penalty if negative), nucleus filtering (drop the tokens after the most likely ones
whose cumulative probability exceeds top_p, always keeping the first), temperature, top-k, then a
draw. Draws use exponential races (argmax of p / Exp(1) noise), with noise for every item of the batch
drawn from `generator` at every step whether or not the item is still decoding: so the tokens of an
item depend only on the seed, never on when the others stop, and both paths consume the same numbers.
top_k = 1 is greedy.

A sequence stops when the draw is end-of-speech, or (as in the published decoder, option
`stop_on_argmax_eos`) when end-of-speech is the most likely token after the penalty; the stopping
token is not part of the output. End-of-speech is masked out until `min_new_tokens` tokens exist
(the published decoder masks it for its first 11 steps, 0.44 s of 25 Hz tokens: a prompt that ends
in silence, as TTS prompts do, otherwise invites a small model to stop before saying anything).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sonicsynth.models.gpt.model import SemanticGPT, last_position, lengths_to_mask, prefix_lm_mask


@dataclass(frozen=True)
class SamplingSettings:
    """How the next token is chosen (defaults: the published v2 inference settings).

    top_k: keep the k most likely tokens (1 = greedy; None = all). top_p: nucleus threshold (1 = off).
    temperature: divides the logits (> 0). repetition_penalty: >= 1 (1 = off). min_new_tokens:
    end-of-speech is not allowed before this many tokens were generated. max_new_tokens: decoding
    stops there (the published decoder's 1500 steps = 60 s of 25 Hz tokens).
    """

    top_k: int | None = 15
    top_p: float = 1.0
    temperature: float = 1.0
    repetition_penalty: float = 1.35
    min_new_tokens: int = 11
    max_new_tokens: int = 1500
    stop_on_argmax_eos: bool = True

    def __post_init__(self) -> None:
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None, got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 (use top_k=1 for greedy decoding), got {self.temperature}")
        if self.repetition_penalty < 1.0:
            raise ValueError(f"repetition_penalty must be >= 1, got {self.repetition_penalty}")
        if self.min_new_tokens < 0 or self.max_new_tokens < 1:
            raise ValueError(
                f"need min_new_tokens >= 0 and max_new_tokens >= 1, got {self.min_new_tokens}, {self.max_new_tokens}"
            )


@dataclass
class DecodingResult:
    """Generated tokens without end-of-speech.

    tokens: (batch, longest) right-padded with the end-of-speech id; lengths: (batch,);
    stopped_at_eos: (batch,) True where the item ended with end-of-speech, False where it reached
    max_new_tokens. logits: (batch, steps, vocab) raw next-token logits of every step, NaN after an
    item stopped (only when requested).
    """

    tokens: torch.Tensor
    lengths: torch.Tensor
    stopped_at_eos: torch.Tensor
    logits: torch.Tensor | None = None

    def sequences(self) -> list[torch.Tensor]:
        """The tokens of each item, unpadded."""
        return [row[:length] for row, length in zip(self.tokens, self.lengths.tolist())]


def choose_tokens(
    logits: torch.Tensor,
    seen: torch.Tensor,
    noise: torch.Tensor,
    settings: SamplingSettings,
    allow_eos: bool,
    eos_id: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen token, whether end-of-speech is the most likely token) per row of logits (rows, vocab).

    seen: (rows, vocab) bool, the tokens the repetition penalty applies to; noise: (rows, vocab)
    Exp(1) draws. See the module docstring for the order of the steps.
    """
    logits = logits.float().clone()
    if not allow_eos:
        logits[:, eos_id] = float("-inf")
    if settings.repetition_penalty != 1.0:
        penalised = torch.where(logits < 0, logits * settings.repetition_penalty, logits / settings.repetition_penalty)
        logits = torch.where(seen, penalised, logits)
    eos_is_likeliest = logits.argmax(dim=-1) == eos_id
    if settings.top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        drop = ordered.softmax(dim=-1).cumsum(dim=-1) > settings.top_p
        drop[:, 0] = False
        logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    logits = logits / settings.temperature
    if settings.top_k is not None and settings.top_k < logits.shape[-1]:
        pivot = logits.topk(settings.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < pivot, float("-inf"))
    probs = logits.softmax(dim=-1)
    return (probs / noise).argmax(dim=-1), eos_is_likeliest


class _Decoder:
    """State shared by both decoding paths: the active rows, what they generated, when they stopped."""

    def __init__(
        self,
        model: SemanticGPT,
        prompt_tokens: torch.Tensor,
        prompt_lengths: torch.Tensor,
        settings: SamplingSettings,
        generator: torch.Generator | None,
        keep_logits: bool,
    ) -> None:
        self.model, self.settings, self.generator = model, settings, generator
        batch, device = prompt_tokens.shape[0], prompt_tokens.device
        self.batch, self.device = batch, device
        self.eos_id, self.vocab = model.eos_id, model.vocab_size
        self.active = torch.arange(batch, device=device)  # original row of each active row
        self.generated = torch.full((batch, settings.max_new_tokens), self.eos_id, dtype=torch.long, device=device)
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)
        self.stopped_at_eos = torch.zeros(batch, dtype=torch.bool, device=device)
        self.seen = torch.zeros(batch, self.vocab, dtype=torch.bool, device=device)
        prompt_valid = lengths_to_mask(prompt_lengths, prompt_tokens.shape[1])
        self.seen.scatter_(1, prompt_tokens.masked_fill(~prompt_valid, self.eos_id), prompt_valid)
        self.logits = (
            torch.full((batch, settings.max_new_tokens, self.vocab), float("nan"), device=device)
            if keep_logits else None
        )

    def _noise(self) -> torch.Tensor:
        device = self.generator.device if self.generator is not None else self.device
        noise = torch.empty(self.batch, self.vocab, device=device).exponential_(generator=self.generator)
        return noise.to(self.device)[self.active]

    def step(self, logits: torch.Tensor, step: int) -> torch.Tensor | None:
        """Choose the next token of every active row from its logits (active rows, vocab).

        Returns the positions (into the active rows) of the rows that go on, or None when nothing
        changed; afterwards `self.active` holds only the rows that go on.
        """
        if self.logits is not None:
            self.logits[self.active, step] = logits.float()
        tokens, eos_is_likeliest = choose_tokens(
            logits, self.seen[self.active], self._noise(), self.settings,
            allow_eos=step >= self.settings.min_new_tokens, eos_id=self.eos_id,
        )
        ends = tokens == self.eos_id
        if self.settings.stop_on_argmax_eos:
            ends |= eos_is_likeliest
        goes_on = ~ends
        rows = self.active[goes_on]
        self.generated[rows, step] = tokens[goes_on]
        self.lengths[rows] += 1
        self.seen[rows, tokens[goes_on]] = True
        self.stopped_at_eos[self.active[ends]] = True
        if step + 1 == self.settings.max_new_tokens:
            goes_on = torch.zeros_like(goes_on)
        if bool(goes_on.all()):
            return None
        keep = goes_on.nonzero().squeeze(1)
        self.active = self.active[keep]
        return keep

    def last_tokens(self, step: int) -> torch.Tensor:
        """(active rows, 1) the token each active row generated at `step`."""
        return self.generated[self.active, step].unsqueeze(1)

    def result(self) -> DecodingResult:
        longest = int(self.lengths.max()) if self.batch else 0
        logits = None
        if self.logits is not None:
            # an item that stopped at end-of-speech ran one step more than it has tokens
            steps = self.lengths + self.stopped_at_eos.long()
            logits = self.logits[:, : int(steps.max()) if self.batch else 0]
        return DecodingResult(self.generated[:, :longest].clone(), self.lengths, self.stopped_at_eos, logits)


def _check_prompt(model: SemanticGPT, phone_ids: torch.Tensor, phone_lengths: torch.Tensor,
                  prompt_tokens: torch.Tensor, prompt_lengths: torch.Tensor) -> None:
    if prompt_tokens.ndim != 2 or prompt_tokens.shape[0] != phone_ids.shape[0]:
        raise ValueError(
            f"prompt_tokens must be (batch, tokens) with the batch of phone_ids {tuple(phone_ids.shape)}, "
            f"got {tuple(prompt_tokens.shape)}"
        )
    if prompt_lengths.shape != (phone_ids.shape[0],) or phone_lengths.shape != (phone_ids.shape[0],):
        raise ValueError("phone_lengths and prompt_lengths must have one entry per item")
    valid = lengths_to_mask(prompt_lengths, prompt_tokens.shape[1])
    if bool(((prompt_tokens < 0) | (prompt_tokens >= model.codebook_size))[valid].any()):
        raise ValueError(f"prompt tokens must be semantic codes in [0, {model.codebook_size})")
    if bool((phone_ids[lengths_to_mask(phone_lengths, phone_ids.shape[1])] >= model.phone_vocab_size).any()):
        raise ValueError(f"phone ids must be below the phone vocabulary size {model.phone_vocab_size}")


def _decode_with_cache(model: SemanticGPT, state: _Decoder, phone_ids: torch.Tensor, phone_lengths: torch.Tensor,
                       prompt_tokens: torch.Tensor, prompt_lengths: torch.Tensor,
                       bert_features: torch.Tensor | None) -> None:
    num_phones, num_prompt = phone_ids.shape[1], prompt_tokens.shape[1]
    prefix = num_phones + num_prompt
    safe_prompt = prompt_tokens.masked_fill(~lengths_to_mask(prompt_lengths, num_prompt), 0)
    x = torch.cat([model.embed_phones(phone_ids, bert_features), model.embed_tokens(safe_prompt)], dim=1)
    cache = model.h.new_cache(x.shape[0], prefix + state.settings.max_new_tokens, like=x)
    key_valid = torch.zeros(x.shape[0], prefix + state.settings.max_new_tokens, dtype=torch.bool, device=x.device)
    key_valid[:, :num_phones] = lengths_to_mask(phone_lengths, num_phones)
    key_valid[:, num_phones:prefix] = lengths_to_mask(prompt_lengths, num_prompt)
    hidden = model.h(x, prefix_lm_mask(phone_lengths, prompt_lengths, num_phones, num_prompt), cache, start=0)
    rows = torch.arange(x.shape[0], device=x.device)
    logits = model.ar_predict_layer(hidden[rows, last_position(phone_lengths, prompt_lengths, num_phones)])
    next_position = prompt_lengths.clone()
    length = prefix
    for step in range(state.settings.max_new_tokens):
        keep = state.step(logits, step)
        if keep is not None:
            if keep.numel() == 0:
                return
            cache = [layer.select(keep) for layer in cache]
            key_valid, next_position = key_valid[keep], next_position[keep]
        embedded = model.embed_tokens(state.last_tokens(step), next_position.unsqueeze(1))
        key_valid[:, length] = True
        hidden = model.h(embedded, key_valid[:, None, None, : length + 1], cache, start=length)
        logits = model.ar_predict_layer(hidden[:, 0])
        next_position += 1
        length += 1


def _decode_without_cache(model: SemanticGPT, state: _Decoder, phone_ids: torch.Tensor,
                          phone_lengths: torch.Tensor, prompt_tokens: torch.Tensor, prompt_lengths: torch.Tensor,
                          bert_features: torch.Tensor | None) -> None:
    num_prompt = prompt_tokens.shape[1]
    for step in range(state.settings.max_new_tokens):
        rows = state.active
        tokens = torch.zeros(rows.numel(), num_prompt + step, dtype=torch.long, device=prompt_tokens.device)
        tokens[:, :num_prompt] = prompt_tokens[rows]
        if step:
            # each item's generated tokens right after its own prompt
            at = prompt_lengths[rows].unsqueeze(1) + torch.arange(step, device=tokens.device)
            tokens.scatter_(1, at, state.generated[rows, :step])
        logits = model.next_token_logits(
            phone_ids[rows], phone_lengths[rows], tokens, prompt_lengths[rows] + step,
            None if bert_features is None else bert_features[rows],
        )
        keep = state.step(logits, step)
        if keep is not None and keep.numel() == 0:
            return


@torch.no_grad()
def decode(
    model: SemanticGPT,
    phone_ids: torch.Tensor,
    phone_lengths: torch.Tensor,
    prompt_tokens: torch.Tensor,
    prompt_lengths: torch.Tensor,
    bert_features: torch.Tensor | None = None,
    settings: SamplingSettings | None = None,
    *,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    return_logits: bool = False,
) -> DecodingResult:
    """Continue each item's semantic tokens after its prompt until end-of-speech or max_new_tokens.

    phone_ids (batch, phones) / phone_lengths: reference + target phones, right-padded.
    prompt_tokens (batch, tokens) / prompt_lengths: the reference audio's tokens, right-padded
        (lengths may be 0: decoding then starts from the phones alone).
    bert_features: (batch, bert_dim, phones) or None (zeros).
    Randomness: `generator` if given, else a CPU generator seeded with `seed` if given (0 is a seed),
    else torch's global generator. The model should be in eval mode (dropout would make it random).
    """
    settings = settings or SamplingSettings()
    _check_prompt(model, phone_ids, phone_lengths, prompt_tokens, prompt_lengths)
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(seed)
    state = _Decoder(model, prompt_tokens, prompt_lengths, settings, generator, return_logits)
    run = _decode_with_cache if use_cache else _decode_without_cache
    run(model, state, phone_ids, phone_lengths, prompt_tokens, prompt_lengths, bert_features)
    return state.result()
