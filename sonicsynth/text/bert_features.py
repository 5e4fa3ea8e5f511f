"""Per-phone BERT features for the semantic GPT: a pretrained text encoder's reading of the sentence,
one vector per phone, added to the phone embeddings (through the GPT's `bert_proj`).

GPT-SoVITS feeds Mandarin phones the hidden states of chinese-roberta-wwm-ext-large (third layer
from the top, 1024-d), each character's vector repeated for its phones, and zeros to every other
language. Here the encoder is any BERT-family model in a local Hugging Face directory (`model_dir`,
read with `transformers`, never downloaded), and words are aligned to its sub-word tokens through the
fast tokenizer's character offsets, so the same code serves character-level Chinese models and
word-piece models of other languages:

    words (the front end's, punctuation included) --joined into the sentence, each word's character span
    tokenizer --offsets--> the tokens covering each word's span
    encoder hidden states (layer `layer`) --mean over a word's tokens--> one vector per word
    --repeated for the word's phones--> (dim, phones)

Words of languages outside `languages` (default: zh, as published) and words no token covers get
zeros, exactly what the GPT sees without BERT features. The encoder runs in eval mode under
inference_mode: it is a frozen feature extractor, as in the published recipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

# Scripts written without spaces between words: their words are joined without one.
_UNSPACED_LANGUAGES = frozenset({"zh", "ja", "yue"})


class PhoneBertFeatures:
    """model_dir: a local directory with a BERT-family encoder and its fast tokenizer. layer: the
    hidden-state layer read (-3: the third from the top, as GPT-SoVITS). languages: the languages
    that get features (the others zeros)."""

    def __init__(self, model_dir: str | Path, layer: int = -3, languages: Sequence[str] = ("zh",),
                 device: str | torch.device = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir)
        if not self.model_dir.is_dir():
            raise FileNotFoundError(f"{self.model_dir}: no such BERT model directory (a local Hugging Face model)")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        if not self.tokenizer.is_fast:
            raise ValueError(f"{self.model_dir}: the tokenizer is not a fast tokenizer; word alignment needs its offsets")
        self.device = torch.device(device)
        self.model = AutoModel.from_pretrained(self.model_dir, local_files_only=True).eval().to(self.device)
        self.layer, self.languages = layer, frozenset(languages)
        self.dim = int(self.model.config.hidden_size)

    def to(self, device: str | torch.device) -> "PhoneBertFeatures":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def settings(self) -> dict:
        """What the features depend on (recorded by the models that read them)."""
        return {"model_dir": str(self.model_dir), "layer": self.layer, "languages": sorted(self.languages),
                "dim": self.dim}

    def __call__(self, words: Sequence[str], phone_counts: Sequence[int], language: str) -> np.ndarray:
        """(dim, sum(phone_counts)) float32: each word's vector repeated for its phones; zeros for a
        language outside `languages`."""
        if len(words) != len(phone_counts):
            raise ValueError(f"{len(words)} words but {len(phone_counts)} phone counts")
        phones = int(sum(phone_counts))
        features = np.zeros((self.dim, phones), dtype=np.float32)
        if language not in self.languages or not words:
            return features
        separator = "" if language in _UNSPACED_LANGUAGES else " "
        spans, position = [], 0
        for word in words:
            spans.append((position, position + len(word)))
            position += len(word) + len(separator)
        sentence = separator.join(words)
        encoded = self.tokenizer(sentence, return_offsets_mapping=True, return_tensors="pt", truncation=True)
        offsets = encoded.pop("offset_mapping")[0].tolist()
        with torch.inference_mode():
            out = self.model(**{k: v.to(self.device) for k, v in encoded.items()}, output_hidden_states=True)
        hidden = out.hidden_states[self.layer][0].float().cpu().numpy()  # (tokens, dim)
        start = 0
        for (low, high), count in zip(spans, phone_counts):
            # Special tokens have empty offsets (0, 0) and cover no word.
            covering = [i for i, (a, b) in enumerate(offsets) if b > a and a < high and b > low]
            if covering and count:
                features[:, start:start + count] = hidden[covering].mean(axis=0)[:, None]
            start += count
        return features
