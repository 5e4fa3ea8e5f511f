"""Checkpoint packages: round trip, every refusal, atomic writes, and training-checkpoint loading."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch
import yaml
from torch import nn

import sonicsynth
from sonicsynth.export import (
    CheckpointLoadError,
    CompatibilityError,
    ConfigWeightsMismatchError,
    FamilyMismatchError,
    IntegrityError,
    PackageFormatError,
    PackageNotFoundError,
    UnsupportedFormatVersion,
    check_state_dict_matches,
    load_package,
    load_training_checkpoint,
    require_compatible,
    save_package,
)
from sonicsynth.export.__main__ import main as package_cli
from sonicsynth.utils.atomic import atomic_dir, atomic_write
from sonicsynth.utils.hashing import sha256_file, sha256_json

FAMILY = "vocoder/hifigan"


def build_model(config: dict) -> nn.Sequential:
    """A stand-in for a model family: its shapes are determined entirely by the config."""
    width = config["width"]
    return nn.Sequential(nn.Linear(config["in_dim"], width), nn.ReLU(), nn.Linear(width, config["out_dim"]))


def tiny_config(width: int = 8) -> dict:
    return {"in_dim": 4, "width": width, "out_dim": 2, "dropout": 0.1, "tags": ["a", "b"]}


@pytest.fixture
def package_dir(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    config = tiny_config()
    state_dict = build_model(config).state_dict()
    return save_package(tmp_path / "pkg", state_dict, config, FAMILY, compatibility_id="run-1")


def flip_byte_in_safetensors_data(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    (header_length,) = struct.unpack("<Q", raw[:8])  # safetensors: u64 header size, JSON header, data
    raw[8 + header_length + 5] ^= 0xFF
    path.write_bytes(bytes(raw))


def rewrite_manifest(package: Path, **changes: object) -> None:
    manifest_path = package / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.update(changes)
    manifest_path.write_text(json.dumps(manifest))


# --- round trip ------------------------------------------------------------------------------------


def test_round_trip_preserves_weights_config_and_records_hashes(tmp_path: Path) -> None:
    config = tiny_config()
    model = build_model(config)
    source = {"checkpoint": "logs/run/last.ckpt", "epoch": 3, "step": 1200}
    path = save_package(
        tmp_path / "pkg", model.state_dict(), config, FAMILY, compatibility_id="run-1", source=source
    )

    assert sorted(p.name for p in path.iterdir()) == ["config.yaml", "manifest.json", "weights.safetensors"]
    package = load_package(path, family=FAMILY)
    assert package.config == config
    assert package.state_dict.keys() == model.state_dict().keys()
    for name, tensor in model.state_dict().items():
        assert torch.equal(package.state_dict[name], tensor)

    manifest = package.manifest
    assert manifest["format"] == "sonicsynth-package"
    assert manifest["format_version"] == 1
    assert manifest["sonicsynth_version"] == sonicsynth.__version__
    assert manifest["family"] == FAMILY
    assert manifest["compatibility_id"] == "run-1"
    assert manifest["source"] == source
    assert manifest["created_at"]
    assert manifest["config_sha256"] == sha256_json(config)
    assert manifest["weights_sha256"] == sha256_file(path / "weights.safetensors")

    rebuilt = build_model(package.config)
    check_state_dict_matches(rebuilt, package.state_dict, path)
    rebuilt.load_state_dict(package.state_dict)


def test_new_compatibility_id_is_generated_when_none_given(tmp_path: Path) -> None:
    config = tiny_config()
    first = load_package(save_package(tmp_path / "a", build_model(config).state_dict(), config, FAMILY))
    second = load_package(save_package(tmp_path / "b", build_model(config).state_dict(), config, FAMILY))
    assert first.compatibility_id and first.compatibility_id != second.compatibility_id


def test_tied_and_non_contiguous_tensors_are_saved(tmp_path: Path) -> None:
    shared = torch.randn(3, 4)
    state_dict = {"embedding.weight": shared, "head.weight": shared, "transposed": torch.randn(4, 5).t()}
    package = load_package(save_package(tmp_path / "pkg", state_dict, {"n": 1}, FAMILY))
    for name, tensor in state_dict.items():
        assert torch.equal(package.state_dict[name], tensor)


def test_hydra_config_is_resolved_before_saving(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    config = OmegaConf.create({"width": 8, "hidden": "${width}"})
    package = load_package(save_package(tmp_path / "pkg", {}, config, FAMILY))
    assert package.config == {"width": 8, "hidden": 8}


# --- refusals on load ------------------------------------------------------------------------------


def test_missing_package_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(PackageNotFoundError, match=str(missing)):
        load_package(missing)


@pytest.mark.parametrize("file_name", ["manifest.json", "config.yaml", "weights.safetensors"])
def test_missing_file_inside_package(package_dir: Path, file_name: str) -> None:
    (package_dir / file_name).unlink()
    with pytest.raises(PackageNotFoundError) as error:
        load_package(package_dir)
    assert str(package_dir) in str(error.value) and file_name in str(error.value)


def test_manifest_that_is_not_json(package_dir: Path) -> None:
    (package_dir / "manifest.json").write_text("{not json")
    with pytest.raises(PackageFormatError, match="manifest.json"):
        load_package(package_dir)


def test_manifest_of_another_format(package_dir: Path) -> None:
    rewrite_manifest(package_dir, format="something-else")
    with pytest.raises(PackageFormatError) as error:
        load_package(package_dir)
    message = str(error.value)
    assert "manifest.json" in message and "something-else" in message and "sonicsynth-package" in message


def test_unsupported_format_version(package_dir: Path) -> None:
    rewrite_manifest(package_dir, format_version=99)
    with pytest.raises(UnsupportedFormatVersion) as error:
        load_package(package_dir)
    message = str(error.value)
    assert str(package_dir) in message and "manifest.json" in message
    assert "99" in message and "supported: 1" in message


def test_wrong_family(package_dir: Path) -> None:
    with pytest.raises(FamilyMismatchError) as error:
        load_package(package_dir, family="sovits")
    message = str(error.value)
    assert str(package_dir) in message and "manifest.json" in message
    assert "'sovits'" in message and f"'{FAMILY}'" in message


def test_tampered_weights(package_dir: Path) -> None:
    expected = json.loads((package_dir / "manifest.json").read_text())["weights_sha256"]
    flip_byte_in_safetensors_data(package_dir / "weights.safetensors")
    with pytest.raises(IntegrityError) as error:
        load_package(package_dir)
    message = str(error.value)
    assert str(package_dir) in message and "weights.safetensors" in message
    assert expected in message and sha256_file(package_dir / "weights.safetensors") in message


def test_tampered_config(package_dir: Path) -> None:
    config_path = package_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    expected = sha256_json(config)
    config["dropout"] = 0.2
    config_path.write_text(yaml.safe_dump(config))
    with pytest.raises(IntegrityError) as error:
        load_package(package_dir)
    message = str(error.value)
    assert str(package_dir) in message and "config.yaml" in message and "modified" in message
    assert expected in message and sha256_json(config) in message


def test_reformatting_config_without_changing_values_still_verifies(package_dir: Path) -> None:
    config_path = package_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config_path.write_text("# reviewed\n" + yaml.safe_dump(config, sort_keys=True, default_flow_style=True))
    assert load_package(package_dir).config == config


def test_weights_that_do_not_fit_the_config(tmp_path: Path) -> None:
    config = tiny_config(width=8)
    path = save_package(tmp_path / "pkg", build_model(tiny_config(width=16)).state_dict(), config, FAMILY)
    package = load_package(path)
    with pytest.raises(ConfigWeightsMismatchError) as error:
        check_state_dict_matches(build_model(package.config), package.state_dict, path)
    message = str(error.value)
    assert "weights.safetensors" in message and "config.yaml" in message and str(path) in message
    assert "0.weight: model (8, 4) vs weights (16, 4)" in message
    assert "2.weight: model (2, 8) vs weights (2, 16)" in message


def test_mismatch_lists_missing_and_unexpected_keys_and_caps_long_lists(tmp_path: Path) -> None:
    model = nn.Linear(2, 2)
    state_dict = {f"extra.{index}": torch.zeros(1) for index in range(15)}
    state_dict["weight"] = torch.zeros(2, 2)
    with pytest.raises(ConfigWeightsMismatchError) as error:
        check_state_dict_matches(model, state_dict, tmp_path)
    message = str(error.value)
    assert "missing keys (1):\n    bias" in message
    assert "unexpected keys (15):" in message and "... and 5 more" in message
    assert "extra.9" in message and "extra.10" not in message


def test_packages_with_different_compatibility_ids_are_refused(tmp_path: Path) -> None:
    config = tiny_config()
    state_dict = build_model(config).state_dict()
    encoder = load_package(save_package(tmp_path / "encoder", state_dict, config, "sovits/encoder", "run-1"))
    decoder = load_package(save_package(tmp_path / "decoder", state_dict, config, "sovits/decoder", "run-2"))
    same_run = load_package(save_package(tmp_path / "same", state_dict, config, "sovits/decoder", "run-1"))

    require_compatible(encoder, same_run)
    with pytest.raises(CompatibilityError) as error:
        require_compatible(encoder, same_run, decoder)
    message = str(error.value)
    assert str(tmp_path / "decoder") in message and "'run-1'" in message and "'run-2'" in message


# --- writing ---------------------------------------------------------------------------------------


def test_failed_save_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", failing_save)
    config = tiny_config()
    with pytest.raises(OSError, match="disk full"):
        save_package(tmp_path / "pkg", build_model(config).state_dict(), config, FAMILY)
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_package(package_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = load_package(package_dir).manifest

    def failing_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", failing_save)
    with pytest.raises(OSError):
        save_package(package_dir, {}, {"other": True}, FAMILY)
    assert load_package(package_dir).manifest == before
    assert [p.name for p in package_dir.parent.iterdir()] == ["pkg"]


def test_saving_over_a_package_replaces_it(package_dir: Path) -> None:
    save_package(package_dir, {"w": torch.ones(3)}, {"other": True}, "face/renderer")
    package = load_package(package_dir, family="face/renderer")
    assert package.config == {"other": True} and torch.equal(package.state_dict["w"], torch.ones(3))
    assert [p.name for p in package_dir.parent.iterdir()] == ["pkg"]


def test_saving_over_a_directory_that_is_not_a_package_is_refused(tmp_path: Path) -> None:
    precious = tmp_path / "results"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a sonicsynth package"):
        save_package(precious, {}, {}, FAMILY)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_config_that_is_not_plain_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be plain data"):
        save_package(tmp_path / "pkg", {}, {"data_dir": tmp_path}, FAMILY)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_on_success_and_keeps_old_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_write(target, "w") as file:
        file.write("first")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as file:
            file.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_refuses_existing_path_unless_overwriting(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_dir(target) as staging:
        (staging / "a").write_text("1")
    with pytest.raises(FileExistsError):
        with atomic_dir(target):
            pass
    with atomic_dir(target, overwrite=True) as staging:
        (staging / "b").write_text("2")
    assert [p.name for p in target.iterdir()] == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# --- training checkpoints --------------------------------------------------------------------------


class TrainerState:
    """A custom class, as a Lightning checkpoint may pickle (e.g. a scheduler or a hyper-parameter object)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch


def test_training_checkpoint_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 3}, path)
    checkpoint = load_training_checkpoint(path)
    assert checkpoint["epoch"] == 3 and torch.equal(checkpoint["state_dict"]["w"], torch.ones(2))


def test_missing_training_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        load_training_checkpoint(tmp_path / "missing.ckpt")


def test_truncated_training_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.ones(64)}}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointLoadError) as error:
        load_training_checkpoint(path)
    assert str(path) in str(error.value) and "zip archive" in str(error.value)


def test_text_file_as_training_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.ckpt"
    path.write_text("this is not a checkpoint\n")
    with pytest.raises(CheckpointLoadError) as error:
        load_training_checkpoint(path)
    assert str(path) in str(error.value) and "not a torch checkpoint" in str(error.value)


def test_checkpoint_with_custom_objects_needs_trust(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "trainer_state": TrainerState(epoch=3)}, path)
    with pytest.raises(CheckpointLoadError) as error:
        load_training_checkpoint(path)
    message = str(error.value)
    assert str(path) in message and "TrainerState" in message and "trust=True" in message

    checkpoint = load_training_checkpoint(path, trust=True)
    assert checkpoint["trainer_state"].epoch == 3


# --- CLI -------------------------------------------------------------------------------------------


def test_cli_verify_prints_manifest(package_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert package_cli(["verify", str(package_dir), "--family", FAMILY]) == 0
    assert json.loads(capsys.readouterr().out)["family"] == FAMILY


def test_cli_verify_fails_with_the_error(package_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flip_byte_in_safetensors_data(package_dir / "weights.safetensors")
    assert package_cli(["verify", str(package_dir)]) == 1
    assert "weights.safetensors" in capsys.readouterr().err


def test_cli_runs_as_a_module(package_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sonicsynth.export", "verify", str(package_dir)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["compatibility_id"] == "run-1"
    assert "RuntimeWarning" not in result.stderr
