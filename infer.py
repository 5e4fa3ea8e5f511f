"""Inference entry point: `python infer.py task=<task> ...` (see configs/infer.yaml).

Tasks:
  vocode   ckpt=<vocoder package dir or training .ckpt> input=<wav | mel .npy | directory>
  resynth  ckpt=<SoVITS package dir, training .ckpt or published GPT-SoVITS file> input=<wav>
           text="<its transcript>" lang=<en|zh|...|auto> ref_audio=<3-10 s wav of the target voice>
           [content.model_dir=<HuBERT directory>] [seed=0] [noise_scale=0.5]
           (quote a transcript with commas for Hydra: 'text="Hello, world."')
  tts      gpt=<GPT package dir, training .ckpt or published s1 .ckpt> ckpt=<the SoVITS model it was trained with>
           text="<what to say>" lang=<en|zh|...> ref_audio=<3-10 s wav of the voice> ref_text="<its transcript>"
           [ref_lang=...] [seed=0] [stream=true] [sampling.top_k=15 ...] (ref_text=null: reference-free)
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


def run_resynth(cfg: DictConfig) -> Path:
    from sonicsynth.pipelines.resynth import SoVITSResynthesizer, resynth

    if cfg.ref_audio is None:
        raise ValueError("task=resynth needs ref_audio=<wav of the voice to speak in, 3-10 s>")
    if cfg.text is None:
        raise ValueError("task=resynth needs text=\"<the transcript of the input>\"")
    resynthesizer = SoVITSResynthesizer.load(
        cfg.ckpt,
        content=OmegaConf.to_container(cfg.content, resolve=True),
        trust=cfg.trust_checkpoint,
        device=cfg.device,
        reference_min_sec=cfg.reference_min_sec,
        reference_max_sec=cfg.reference_max_sec,
        min_speech_level_db=cfg.min_speech_level_db,
    )
    parameters = OmegaConf.to_container(cfg, resolve=True)
    # str: Hydra reads an unquoted `text=42` or `text=yes` as a number or a boolean.
    return resynth(resynthesizer, cfg.input, str(cfg.text), cfg.lang, cfg.ref_audio, cfg.output_dir, parameters,
                   seed=cfg.seed, noise_scale=cfg.noise_scale)


def run_tts(cfg: DictConfig) -> Path:
    from sonicsynth.models.gpt.decoding import SamplingSettings
    from sonicsynth.pipelines.tts import TextToSpeech, tts

    if cfg.gpt is None:
        raise ValueError("task=tts needs gpt=<the GPT package or checkpoint> (and ckpt=<its SoVITS model>)")
    if cfg.ref_audio is None:
        raise ValueError("task=tts needs ref_audio=<wav of the voice to speak in, 3-10 s>")
    if cfg.text is None:
        raise ValueError("task=tts needs text=\"<what to say>\"")
    speaker = TextToSpeech.load(
        cfg.gpt, cfg.ckpt,
        content=OmegaConf.to_container(cfg.content, resolve=True),
        trust=cfg.trust_checkpoint,
        device=cfg.device,
        reference_min_sec=cfg.reference_min_sec,
        reference_max_sec=cfg.reference_max_sec,
        min_speech_level_db=cfg.min_speech_level_db,
        sampling=SamplingSettings(**OmegaConf.to_container(cfg.sampling, resolve=True)),
        noise_scale=cfg.noise_scale,
        pause_sec=cfg.pause_sec,
        max_piece_chars=cfg.max_piece_chars,
        max_piece_sec=cfg.max_piece_sec,
    )
    parameters = OmegaConf.to_container(cfg, resolve=True)
    ref_text = None if cfg.ref_text is None else str(cfg.ref_text)
    return tts(speaker, str(cfg.text), cfg.lang, cfg.ref_audio, cfg.output_dir, parameters, reference_text=ref_text,
               reference_language=cfg.ref_lang, seed=cfg.seed, stream=cfg.stream, output_name=cfg.output_name or "tts")


def run_a2bs(cfg: DictConfig) -> Path:
    from dataclasses import asdict

    from sonicsynth.models.face.postprocess import load_style, settings_from_config
    from sonicsynth.pipelines.a2bs import a2bs
    from sonicsynth.pipelines.audio_to_face import FacePredictor

    if cfg.audio is None:
        raise ValueError("task=a2bs needs audio=<wav of speech> and ckpt=<the face-motion package or checkpoint>")
    face = OmegaConf.to_container(cfg.face, resolve=True)
    style = face.pop("style")
    overrides = {key: value for key, value in face.items() if value is not None}
    if style is not None:
        settings = load_style(style)
        settings = settings_from_config({**asdict(settings), **overrides}) if overrides else settings
    else:
        settings = settings_from_config(overrides)
    predictor = FacePredictor.load(cfg.ckpt, trust=cfg.trust_checkpoint, device=cfg.device,
                                   min_speech_level_db=cfg.min_speech_level_db)
    return a2bs(predictor, cfg.audio, cfg.output_dir, OmegaConf.to_container(cfg, resolve=True), settings=settings,
                text=cfg.text, emotion=cfg.emotion, preview=cfg.preview, seed=cfg.seed,
                output_name=cfg.output_name, identity=cfg.identity)


TASKS = {"vocode": run_vocode, "resynth": run_resynth, "tts": run_tts, "a2bs": run_a2bs}


@hydra.main(version_base="1.3", config_path="configs", config_name="infer")
def main(cfg: DictConfig) -> None:
    from sonicsynth.export.package import PackageError

    if cfg.task not in TASKS:
        sys.exit(f"error: unknown task {cfg.task!r}; available: {', '.join(TASKS)}")
    try:
        log_path = TASKS[cfg.task](cfg)
    except (FileNotFoundError, ValueError, PackageError) as err:
        sys.exit(f"error: {err}")
    print(f"generation log: {log_path}")


if __name__ == "__main__":
    main()
