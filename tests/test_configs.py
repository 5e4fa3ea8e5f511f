"""The Hydra tree composes for every trainer, logger, model and debug choice."""

from __future__ import annotations


import pytest
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sonicsynth.utils import hydra_config
from sonicsynth.utils.hydra_config import compose_config



def compose_train(overrides: list[str]) -> DictConfig:
    return compose_config("train", overrides)


@pytest.mark.parametrize("trainer", ["default", "cpu", "gpu", "ddp", "deepspeed_stage_2"])
@pytest.mark.parametrize("logger", ["tensorboard", "csv", "wandb", "many_loggers"])
def test_trainer_and_logger_choices_compose(trainer, logger):
    cfg = compose_train([f"trainer={trainer}", f"logger={logger}", "experiment=hifigan_demo", f"trainer={trainer}"])
    assert cfg.trainer._target_ == "lightning.pytorch.trainer.Trainer"
    assert cfg.model.generator.upsample_initial_channel == 256  # V3


@pytest.mark.parametrize("model, channels", [("hifigan_v1", 512), ("hifigan_v2", 128), ("hifigan_v3", 256), ("hifigan_tiny", 32)])
def test_model_configs(model, channels):
    cfg = compose_train([f"model={model}"])
    assert cfg.model.generator.upsample_initial_channel == channels
    rates = cfg.model.generator.upsample_rates
    hop = 1
    for r in rates:
        hop *= r
    assert hop == cfg.model.mel.hop_length


@pytest.mark.parametrize("debug", ["default", "fdr", "overfit", "limit"])
def test_debug_configs_compose(debug):
    cfg = compose_train([f"debug={debug}"])
    assert cfg.trainer.accelerator == "cpu" and cfg.data.num_workers == 0


def test_wandb_is_offline_without_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    assert not hydra_config.wandb_logged_in()
    cfg = compose_train(["logger=wandb"])
    assert cfg.logger.wandb.offline is True
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert hydra_config.wandb_logged_in()


def test_cpu_trainer_instantiates(tmp_path):
    cfg = compose_train(["trainer=cpu", f"paths.output_dir={tmp_path}"])
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs


def test_the_voice_demo_recipes_compose_on_ctc_content_features():
    from sonicsynth.models.sovits import SoVITSLitModule

    content = "data.features.ctc_content.model=content_model"
    base = compose_train(["experiment=sovits_base_demo", content, "paths.output_dir=o"])
    few_shot = compose_train(["experiment=sovits_1min_demo", content, "init_from=base", "paths.output_dir=o"])
    for cfg in (base, few_shot):
        assert list(cfg.data.features) == ["ctc_content"] and cfg.model.content_key == "ctc_content"
        assert cfg.trainer.accelerator == "cpu" and cfg.model.generator.content_projection.in_channels == 256
    assert base.data.manifest.endswith("manifest.without-fillets-v.jsonl") and few_shot.data.manifest.endswith("manifest.fillets-v.jsonl")
    assert not base.model.generator.freeze_quantizer and few_shot.model.generator.freeze_quantizer
    assert few_shot.callbacks.model_checkpoint.monitor == "val/speaker_similarity"
    # The same model on both sides (a fine-tune loads the base's weights), and one that builds:
    # the decoder's hop equals the spectrogram's.
    for key in ("spectrogram", "mel", "discriminator"):
        assert base.model[key] == few_shot.model[key]
    base_generator, few_shot_generator = dict(base.model.generator), dict(few_shot.model.generator)
    assert base_generator.pop("freeze_quantizer") != few_shot_generator.pop("freeze_quantizer")
    assert base_generator == few_shot_generator
    kwargs = {k: v for k, v in OmegaConf.to_container(few_shot.model, resolve=True).items() if not k.startswith("_")}
    module = SoVITSLitModule(**{**kwargs, "few_shot": False})
    assert module.hop_length == 320 and module.sample_rate == 16000
    content_model = compose_train(["experiment=aligner_content_demo", "paths.output_dir=o"])
    assert content_model.data.manifest == base.data.manifest and content_model.model.ctc_epochs == 6


def test_the_dialogue_aligner_recipe_is_the_demo_recipe_on_the_dialogue_corpus():
    demo = compose_train(["experiment=aligner_teacher_demo", "model.teacher=hmm", "paths.output_dir=o"])
    dialogue = compose_train(["experiment=aligner_teacher_dialogue", "model.teacher=hmm", "paths.output_dir=o"])
    assert dialogue.data.manifest.endswith("demo_dialogue/manifest.jsonl")
    assert dialogue.model.recognizer == demo.model.recognizer and dialogue.data.acoustic_phones_only
    assert dialogue.model.teacher_epochs == dialogue.trainer.max_epochs == 8


def test_the_gpt_recipes_compose_and_their_models_build():
    from omegaconf.errors import InterpolationResolutionError

    from sonicsynth.models.gpt import GPTLitModule
    from sonicsynth.text.symbols import SYMBOLS

    tokens = "data.features.semantic_tokens.model=sovits_package"
    base = compose_train(["experiment=gpt_base", tokens, "paths.output_dir=o"])
    few_shot = compose_train(["experiment=gpt_1min", tokens, "init_from=gpt", "data.manifest=m", "paths.output_dir=o"])
    base_demo = compose_train(["experiment=gpt_base_demo", tokens, "paths.output_dir=o"])
    few_shot_demo = compose_train(["experiment=gpt_1min_demo", tokens, "init_from=gpt", "paths.output_dir=o"])
    recipes = (base, few_shot, base_demo, few_shot_demo)
    for cfg in recipes:
        assert cfg.model._target_ == "sonicsynth.models.gpt.GPTLitModule"
        assert cfg.data.sample_rate is None and list(cfg.data.features) == ["semantic_tokens"]
        assert cfg.data.features.semantic_tokens.model == "sovits_package"
        assert cfg.callbacks.model_checkpoint.mode == "min"
        assert cfg.callbacks.learning_rate_monitor.logging_interval == "step"
        assert cfg.trainer.gradient_clip_val == 1.0 and not cfg.model.dpo
    # The most intelligible checkpoint is kept, except for the demo's Czech speaker (no Czech recogniser).
    for cfg in (base, few_shot, base_demo):
        assert cfg.callbacks.model_checkpoint.monitor == "val/cer" and cfg.callbacks.intelligibility.language == "en"
    assert few_shot_demo.callbacks.model_checkpoint.monitor == "val/ce_per_token"
    assert few_shot_demo.callbacks.intelligibility is None
    assert base.trainer.accelerator == few_shot.trainer.accelerator == "gpu" and base.trainer.precision == "bf16-mixed"
    assert base_demo.trainer.accelerator == few_shot_demo.trainer.accelerator == "cpu"
    assert base.data.min_items_per_epoch == 0 and base.data.batch_size == 8
    for recipe, start in ((few_shot, base), (few_shot_demo, base_demo)):
        assert recipe.data.min_items_per_epoch == 100 and recipe.trainer.accumulate_grad_batches == 2
        assert 8 <= recipe.trainer.max_epochs <= 15 and recipe.model.learning_rate < start.model.learning_rate
        assert recipe.data.val_speakers is None
        assert recipe.model.net == start.model.net  # a fine-tune loads its base's weights
    assert base_demo.data.manifest.endswith("manifest.without-fillets-v.jsonl")
    assert few_shot_demo.data.manifest.endswith("manifest.fillets-v.jsonl")
    assert base.model.net.num_layers == 24 and base.model.net.phone_vocab_size == 732
    demo_net = base_demo.model.net
    assert (demo_net.dim, demo_net.heads, demo_net.num_layers, demo_net.ffn_dim) == (256, 4, 6, 1024)
    assert demo_net.phone_vocab_size is None

    # Required keys refuse to resolve until given, naming the key.
    unset = compose_train(["experiment=gpt_1min_demo", "paths.output_dir=o"])
    for key in ("init_from", "data.features.semantic_tokens.model"):
        with pytest.raises(InterpolationResolutionError, match=rf"{key} is required by this experiment: give {key}=<"):
            OmegaConf.select(unset, key)
    with pytest.raises(InterpolationResolutionError, match=r"data.manifest is required"):
        OmegaConf.select(compose_train(["experiment=gpt_1min", "paths.output_dir=o"]), "data.manifest")

    # The models build: the published size (77.6M parameters) and the demo's.
    for cfg, parameters in ((base, 77_606_402), (base_demo, 5_685_506)):
        module = instantiate(cfg.model)
        assert isinstance(module, GPTLitModule) and sum(p.numel() for p in module.parameters()) == parameters
        assert module.net.phone_vocab_size == (732 if cfg is base else len(SYMBOLS))  # the demo: our own table
