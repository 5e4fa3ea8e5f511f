"""The semantic GPT (GPT-SoVITS v2 "s1"): phones (+ BERT features) and a reference's semantic tokens
-> the semantic tokens of new speech, which the SoVITS generator turns into audio.

Components as plain nn.Modules composed by `SemanticGPT`; `decoding` generates tokens (key/value
cache or full recomputation, top-k / top-p / temperature / repetition penalty, batched, seeded);
`published` loads and writes the `.ckpt` files GPT-SoVITS publishes; `GPTLitModule` trains it
(`train.py experiment=gpt_base`, `experiment=gpt_1min`).
"""

from sonicsynth.models.gpt.decoding import DecodingResult, SamplingSettings, decode
from sonicsynth.models.gpt.embedding import ScaledSinePositions, TokenEmbedding
from sonicsynth.models.gpt.lightning_module import GPTLitModule
from sonicsynth.models.gpt.model import GPTTrainingOutput, SemanticGPT, prefix_lm_mask
from sonicsynth.models.gpt.transformer import DecoderLayer, LayerCache, SelfAttention, TransformerStack

__all__ = [
    "DecoderLayer",
    "DecodingResult",
    "GPTLitModule",
    "GPTTrainingOutput",
    "LayerCache",
    "SamplingSettings",
    "ScaledSinePositions",
    "SelfAttention",
    "SemanticGPT",
    "TokenEmbedding",
    "TransformerStack",
    "decode",
    "prefix_lm_mask",
]
