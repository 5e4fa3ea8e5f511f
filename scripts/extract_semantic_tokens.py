"""Write the semantic tokens of a manifest's utterances into the feature cache, from a trained SoVITS
model (resumable; see sonicsynth/data/semantic_tokens.py for the layout and why):

    python scripts/extract_semantic_tokens.py ckpt=<SoVITS package dir or .ckpt> [manifest=...] [cache_dir=...]
        [content.model_dir=<HuBERT directory>] [compute_content=true]

Prints the cache key of the tokens (the GPT stage reads them under it), the model's compatibility id
and the counts; every utterance without tokens is listed with its reason in
<cache_dir>/<key>/extraction_summary.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("SONICSYNTH_ROOT", str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402


def run(cfg: DictConfig) -> dict:
    """The extraction behind the command line; returns the summary as a dict."""
    from sonicsynth.data.semantic_tokens import extract_semantic_tokens
    from sonicsynth.pipelines.resynth import SoVITSResynthesizer

    resynthesizer = SoVITSResynthesizer.load(
        cfg.ckpt, content=OmegaConf.to_container(cfg.content, resolve=True), trust=cfg.trust_checkpoint,
        device=cfg.device,
    )
    summary = extract_semantic_tokens(cfg.manifest, cfg.cache_dir, resynthesizer, compute_content=cfg.compute_content,
                                      max_seconds=cfg.max_seconds, progress=cfg.progress)
    return summary.as_dict()


@hydra.main(version_base="1.3", config_path="../configs", config_name="semantic_tokens")
def main(cfg: DictConfig) -> None:
    from sonicsynth.export.package import PackageError

    try:
        report = run(cfg)
    except (FileNotFoundError, ValueError, PackageError) as err:
        sys.exit(f"error: {err}")
    brief = {k: report[k] for k in ("key", "utterances", "computed", "reused", "content", "seconds")}
    brief["compatibility_id"] = report["model"].get("compatibility_id")
    brief["problems"] = len(report["problems"])
    print(json.dumps(brief, indent=2))


if __name__ == "__main__":
    main()
