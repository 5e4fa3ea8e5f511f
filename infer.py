"""Inference entry point: `python infer.py task=<task> ...` (see configs/infer.yaml).

Tasks:
  vocode  ckpt=<vocoder package dir or training .ckpt> input=<wav | mel .npy | directory>
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("SONICSYNTH_ROOT", str(Path(__file__).resolve().parent))

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402


def run_vocode(cfg: DictConfig) -> Path:
    from sonicsynth.models.vocoder.inference import Vocoder
    from sonicsynth.pipelines.vocode import vocode

    vocoder = Vocoder.load(cfg.ckpt, trust=cfg.trust_checkpoint)
    if cfg.remove_weight_norm:
        vocoder.remove_weight_norm()
    vocoder.to(cfg.device)
    parameters = OmegaConf.to_container(cfg, resolve=True)
    return vocode(vocoder, cfg.input, cfg.output_dir, parameters, seed=cfg.seed, skip_bad_inputs=cfg.skip_bad_inputs)


TASKS = {"vocode": run_vocode}


@hydra.main(version_base="1.3", config_path="configs", config_name="infer")
def main(cfg: DictConfig) -> None:
    if cfg.task not in TASKS:
        sys.exit(f"error: unknown task {cfg.task!r}; available: {', '.join(TASKS)}")
    try:
        log_path = TASKS[cfg.task](cfg)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(f"generation log: {log_path}")


if __name__ == "__main__":
    main()
