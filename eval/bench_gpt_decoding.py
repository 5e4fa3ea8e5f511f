"""Semantic GPT decoding speed: key/value cache vs recomputing the whole sequence at every step.

Builds the published-size network (configs/model/gpt_net/v2.yaml: 512-d, 16 heads, 24 layers) with
random weights in eval mode (speed does not depend on the weights), and decodes greedily from a
prompt of reference + target phones and reference semantic tokens, with end-of-speech held off so
every run generates exactly the requested number of tokens. Both paths must give the same tokens;
the report says whether they did and the largest logit difference over the steps both ran.

    python eval/bench_gpt_decoding.py [--phones 60] [--prompt-tokens 50] [--new-tokens 100]
        [--no-cache-tokens N] [--batch 1] [--device cpu|cuda] [--dtype float32|float16|bfloat16]
        [--threads T] [--out bench.json]

Prints one JSON document (and writes it with --out). `--no-cache-tokens` below `--new-tokens` times
the slow path on fewer tokens (its tokens are then compared with the first ones of the cached run:
greedy decoding of a prefix is a prefix).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from sonicsynth.models.gpt import SamplingSettings, SemanticGPT, decode  # noqa: E402
from sonicsynth.utils.atomic import atomic_write  # noqa: E402
from sonicsynth.utils.machine import torch_machine  # noqa: E402

NETWORKS = {"v2": ROOT / "configs" / "model" / "gpt_net" / "v2.yaml",
            "tiny": ROOT / "configs" / "model" / "gpt_net" / "tiny.yaml"}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def build_network(name: str, device: torch.device, dtype: torch.dtype) -> SemanticGPT:
    torch.manual_seed(0)
    model: SemanticGPT = instantiate(OmegaConf.load(NETWORKS[name]))
    return model.to(device=device, dtype=dtype).eval()


def make_prompt(model: SemanticGPT, batch: int, phones: int, prompt_tokens: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "phone_ids": torch.randint(1, model.phone_vocab_size, (batch, phones), generator=g).to(device),
        "phone_lengths": torch.full((batch,), phones).to(device),
        "prompt_tokens": torch.randint(0, model.codebook_size, (batch, prompt_tokens), generator=g).to(device),
        "prompt_lengths": torch.full((batch,), prompt_tokens).to(device),
    }


def timed_decode(model: SemanticGPT, prompt: dict, tokens: int, use_cache: bool, device: torch.device):
    settings = SamplingSettings(top_k=1, min_new_tokens=tokens, max_new_tokens=tokens)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = decode(model, **prompt, settings=settings, use_cache=use_cache, return_logits=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="v2", choices=sorted(NETWORKS))
    parser.add_argument("--phones", type=int, default=60, help="reference + target phones")
    parser.add_argument("--prompt-tokens", type=int, default=50, help="semantic tokens of the reference audio")
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--no-cache-tokens", type=int, default=None,
                        help="tokens for the slow path (default: --new-tokens)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--warmup-tokens", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny network and few tokens, for tests")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.network, args.phones, args.prompt_tokens, args.new_tokens, args.warmup_tokens = "tiny", 8, 5, 6, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    no_cache_tokens = min(args.no_cache_tokens or args.new_tokens, args.new_tokens)
    device, dtype = torch.device(args.device), DTYPES[args.dtype]

    model = build_network(args.network, device, dtype)
    prompt = make_prompt(model, args.batch, args.phones, args.prompt_tokens, device)
    for use_cache in (True, False):
        timed_decode(model, prompt, args.warmup_tokens, use_cache, device)
    cached, cached_seconds = timed_decode(model, prompt, args.new_tokens, True, device)
    full, full_seconds = timed_decode(model, prompt, no_cache_tokens, False, device)

    same = cached.tokens[:, :no_cache_tokens].eq(full.tokens)
    differs = (~same).any(dim=0).nonzero()
    logit_difference = (cached.logits[:, :no_cache_tokens] - full.logits).abs().max().item()
    cached_rate = args.batch * args.new_tokens / cached_seconds
    full_rate = args.batch * no_cache_tokens / full_seconds
    report = {
        "benchmark": "gpt_decoding",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": torch_machine(device),
        "settings": {
            "network": args.network,
            "parameters": sum(p.numel() for p in model.parameters()),
            "dtype": args.dtype,
            "batch": args.batch,
            "phones": args.phones,
            "prompt_tokens": args.prompt_tokens,
            "new_tokens_cached": args.new_tokens,
            "new_tokens_no_cache": no_cache_tokens,
            "decoding": "greedy (top_k 1), end-of-speech held off until the last token",
            "weights": "random (speed only)",
        },
        "kv_cache": {"seconds": cached_seconds, "tokens_per_second": cached_rate},
        "no_cache": {"seconds": full_seconds, "tokens_per_second": full_rate},
        "speedup": cached_rate / full_rate,
        "tokens_equal": bool(same.all()),
        "first_differing_token": int(differs[0]) if len(differs) else None,
        "max_abs_logit_difference": logit_difference,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with atomic_write(args.out, "w") as file:
            file.write(text + "\n")
    if not report["tokens_equal"]:
        print("warning: the cached and recomputed paths gave different tokens", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
