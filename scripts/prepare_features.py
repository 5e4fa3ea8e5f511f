"""Fill the feature cache for a manifest (resumable; see sonicsynth/data/feature_cache.py).

    python scripts/prepare_features.py [manifest=...] [cache_dir=...] [features=with_content ...]
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("SONICSYNTH_ROOT", str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402


@hydra.main(version_base="1.3", config_path="../configs", config_name="prepare")
def main(cfg: DictConfig) -> None:
    from sonicsynth.data.feature_cache import prepare_features

    configs = [OmegaConf.to_container(node, resolve=True) for node in cfg.features.values()]
    summary = prepare_features(cfg.manifest, cfg.cache_dir, configs, workers=cfg.workers, max_seconds=cfg.max_seconds)
    report = summary.as_dict()
    print(json.dumps({k: report[k] for k in ("utterances", "computed", "reused", "seconds")} | {"problems": len(report["problems"])}, indent=2))


if __name__ == "__main__":
    main()
