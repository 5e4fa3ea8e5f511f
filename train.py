"""Train any sonicsynth model: `python train.py experiment=<name> [overrides]` (see configs/)."""

import os
from pathlib import Path

os.environ.setdefault("SONICSYNTH_ROOT", str(Path(__file__).resolve().parent))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from sonicsynth.utils.hydra_config import register_resolvers  # noqa: E402

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    from sonicsynth.training import train

    train(cfg)


if __name__ == "__main__":
    main()
