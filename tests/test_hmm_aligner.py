"""The built-in HMM aligner through the real configs: Viterbi EM on the tiny corpus (with mixing up),
exact resume across a mix-up, export, alignment through the backend registry, bad transcripts."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from sonicsynth.align import AlignmentError, create_aligner
from sonicsynth.align.base import BOUNDARY_KINDS
from sonicsynth.data.manifest import read_manifest
from sonicsynth.export.from_checkpoint import package_from_checkpoint
from sonicsynth.export.package import load_package
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config


def run_training(tiny_corpus: Path, run_dir: Path, epochs: int, *extra: str) -> dict[str, float]:
    overrides = [
        "experiment=aligner_hmm_demo",
        f"data.manifest={tiny_corpus}",
        "data.batch_size=4",
        "data.num_workers=0",
        f"trainer.max_epochs={epochs}",
        "model.mixup_epochs=[2]",
        "model.min_component_frames=5",
        "callbacks.model_checkpoint.save_top_k=-1",
        "logger=csv",
        f"paths.output_dir={run_dir}",
        f"paths.log_dir={run_dir}",
        *extra,
    ]
    return train(compose_config("train", overrides))


@pytest.fixture(scope="module")
def trained_hmm(tiny_corpus, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("hmm_run")
    metrics = run_training(tiny_corpus, run_dir, 4)
    assert metrics["val/log_likelihood"] > -200
    return run_dir / "checkpoints" / "last.ckpt"


def mixture_buffers(checkpoint: Path) -> dict[str, torch.Tensor]:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("mixtures.")}


def test_em_improves_the_likelihood_and_mixes_up(trained_hmm):
    first = mixture_buffers(trained_hmm.parent / "epoch_0000.ckpt")
    last = mixture_buffers(trained_hmm)
    assert first["mixtures.means"].shape[1] == 1 and last["mixtures.means"].shape[1] == 2
    assert torch.isfinite(last["mixtures.log_weights"]).sum() > torch.isfinite(first["mixtures.log_weights"]).sum()
    metrics = (trained_hmm.parent.parent / "csv").rglob("metrics.csv")
    rows = [line.split(",") for line in next(metrics).read_text().splitlines()]
    validation, training = (rows[0].index(name) for name in ("val/log_likelihood", "train/log_likelihood"))
    assert len([r for r in rows[1:] if r[validation]]) == 4
    scores = [float(r[training]) for r in rows[1:] if r[training]]  # from epoch 1: epoch 0 is the flat start
    assert len(scores) == 3 and scores[-1] > scores[0]


def test_resume_across_a_mix_up_is_exact(trained_hmm, tiny_corpus, tmp_path):
    run_training(tiny_corpus, tmp_path, 2)
    resumed_dir = tmp_path / "resumed"
    run_training(tiny_corpus, resumed_dir, 4, f"++ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}")
    resumed, uninterrupted = mixture_buffers(resumed_dir / "checkpoints" / "last.ckpt"), mixture_buffers(trained_hmm)
    assert resumed.keys() == uninterrupted.keys()
    for name in resumed:
        assert torch.equal(resumed[name], uninterrupted[name]), name


def test_trained_hmm_exports_and_aligns(trained_hmm, tiny_corpus, tmp_path):
    package = package_from_checkpoint(trained_hmm, tmp_path / "hmm")
    config = load_package(package, family="aligner/hmm").config
    assert config["states_per_phone"] == 3 and config["components"] == 2

    utterance = next(u for u in read_manifest(tiny_corpus) if u.language == "en")
    aligner = create_aligner("hmm", model=package)
    alignment = aligner.align(utterance.audio_file(tiny_corpus.parent), utterance.text)
    phones, words = alignment.phones, alignment.words
    assert alignment.phone_set == "arpabet" and alignment.source == "hmm"
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(utterance.duration, abs=1e-3)
    assert all(a.end == pytest.approx(b.start) for a, b in itertools.pairwise(phones))  # contiguous
    frame_sec = aligner.frame_sec
    assert all(p.end - p.start >= 3 * frame_sec - 1e-9 for p in phones[:-1])  # three states: 3 frames
    assert [w.word for w in words] == [w.text for w in aligner.frontend.process(utterance.text).words
                                       if w.phones[0] not in ",.?!…;:"]


def test_hmm_backend_refuses_bad_transcripts(trained_hmm, tiny_corpus):
    utterance = next(u for u in read_manifest(tiny_corpus) if u.language == "en")
    aligner = create_aligner("hmm", model=trained_hmm)
    audio = utterance.audio_file(tiny_corpus.parent)
    with pytest.raises(AlignmentError, match="transcript"):
        aligner.align(audio, "   ")
    with pytest.raises(AlignmentError, match="cannot fit"):
        aligner.align(audio, " ".join(["antidisestablishmentarianism"] * 20))
    with pytest.raises(ValueError, match="needs model="):
        create_aligner("hmm")


def test_alignment_benchmark_runs_the_hmm_backend(trained_hmm, tiny_corpus, tmp_path, capsys):
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "eval" / "bench_alignment.py"
    spec = importlib.util.spec_from_file_location("bench_alignment", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # eval/ holds scripts, not a package
    report = bench.main(["--manifest", str(tiny_corpus), "--backends", "hmm", "--hmm-model", str(trained_hmm),
                         "--out", str(tmp_path / "alignment.json")])
    section = report["backends"]["hmm"]
    assert section["utterances"] == report["reference_utterances"] > 0 and section["failed"] == {}
    assert section["phones"]["boundaries"] > 0 and section["phones"]["within_40ms"] is not None
    with pytest.raises(SystemExit):
        bench.main(["--manifest", str(tiny_corpus), "--backends", "hmm"])  # no --hmm-model
    capsys.readouterr()


def test_hmm_teaches_the_ctc_recogniser_its_frames(trained_hmm, tiny_corpus, tiny_aligner_overrides, tmp_path):
    """experiment=aligner_teacher_demo: frame targets from the HMM's Viterbi path, then the phone loop."""
    from hydra.utils import instantiate

    from sonicsynth.models.aligner import CTCAlignerLitModule
    from sonicsynth.models.aligner.hmm_module import HMMAlignerLitModule
    from sonicsynth.models.aligner.phone_loop import PAUSE_CLASS

    run_dir = tmp_path / "student"
    overrides = tiny_aligner_overrides("aligner_teacher_demo", run_dir, f"model.teacher={trained_hmm}",
                                       "model.teacher_epochs=1", "model.speed_factors=[0.9,1.0,1.1]")
    metrics = train(compose_config("train", overrides))
    assert 0.0 <= metrics["val/teacher_frame_agreement"] <= 1.0
    assert all(torch.isfinite(torch.tensor(metrics[k])) for k in ("train/teacher", "train/phone_loop", "val/phone_loop"))

    # The targets are the teacher's classes at the centres of the recogniser's 10 ms frames.
    student = CTCAlignerLitModule.load_from_checkpoint(run_dir / "checkpoints" / "epoch_0000.ckpt",
                                                       map_location="cpu", weights_only=True)
    teacher = HMMAlignerLitModule.load(trained_hmm)
    datamodule = instantiate(compose_config("train", overrides).data)
    datamodule.setup("fit")
    batch = next(iter(datamodule.val_dataloader()))
    frames = batch["audio_lengths"] // student.mel.hop_length
    targets = student._teacher_frame_targets(batch, frames, int(frames.max()))
    classes, teacher_frame_sec = teacher.frame_classes(batch)
    assert teacher_frame_sec == pytest.approx(0.005)
    for i, item_classes in enumerate(classes):
        count = int(frames[i])
        centres = (torch.arange(count) * 2 + 1).clamp(max=len(item_classes) - 1)  # 10 ms centres in 5 ms frames
        assert torch.equal(targets[i, :count], item_classes[centres]) and (targets[i, count:] == -100).all()
        phones = batch["phones"][i, : batch["phones_lengths"][i]]
        assert set(targets[i, :count].tolist()) <= {*phones.tolist(), PAUSE_CLASS}

    # With two output sub-frames per 10 ms frame the targets are the teacher's 5 ms frames, one to one.
    fine = CTCAlignerLitModule({**student.hparams.recognizer, "output_subframes": 2}, student.hparams.mel,
                               teacher=str(trained_hmm), ctc_epochs=0, teacher_epochs=1)
    assert fine.output_frame_sec == pytest.approx(teacher_frame_sec)
    fine_targets = fine._teacher_frame_targets(batch, 2 * frames, 2 * int(frames.max()))
    for i, item_classes in enumerate(classes):
        count = min(2 * int(frames[i]), len(item_classes))
        assert torch.equal(fine_targets[i, :count], item_classes[:count])

    # Speed perturbation: the audio played 1.1 times faster is 1.1 times shorter, and the frame centred
    # at t in it takes the teacher's class at 1.1 t in the original.
    torch.manual_seed(0)
    student.hparams.speed_factors = [1.1]
    played, speed = student._speed_perturbed(batch)
    assert speed == 1.1
    assert torch.equal(played["audio_lengths"], torch.round(batch["audio_lengths"] / 1.1).long())
    assert abs(played["audio"].shape[-1] - batch["audio"].shape[-1] / 1.1) <= 1
    fast_frames = played["audio_lengths"] // student.mel.hop_length
    fast_targets = student._teacher_frame_targets(batch, fast_frames, int(fast_frames.max()), speed)
    for i, item_classes in enumerate(classes):
        count = int(fast_frames[i])
        centres = ((torch.arange(count) + 0.5) * 2.2).long().clamp(max=len(item_classes) - 1)
        assert torch.equal(fast_targets[i, :count], item_classes[centres])
    student.hparams.speed_factors = None
    assert student._speed_perturbed(batch) == (batch, 1.0)
    assert "_teacher_model" not in dict(student.named_modules())  # the teacher is not part of the student

    # The exported student aligns with the phone loop (aligning itself is tested in test_ctc_aligner).
    package = package_from_checkpoint(run_dir / "checkpoints" / "last.ckpt", tmp_path / "package")
    assert load_package(package, family="aligner/ctc").config["decoding"] == "phone_loop"
    assert create_aligner("ctc", model=package).decoding == "phone_loop"


def test_teacher_epochs_need_a_teacher():
    from sonicsynth.models.aligner import CTCAlignerLitModule

    recognizer = {"_target_": "sonicsynth.models.aligner.CTCPhoneRecognizer", "n_mels": 80, "conv_channels": 8}
    with pytest.raises(ValueError, match="needs a teacher"):
        CTCAlignerLitModule(recognizer, {"sample_rate": 16000}, ctc_epochs=0, teacher_epochs=2)
    with pytest.raises(ValueError, match="speed factor 1.00001"):
        CTCAlignerLitModule(recognizer, {"sample_rate": 16000}, speed_factors=[0.9, 1.00001])


def test_calibrated_boundary_shift_is_recorded_and_applied(trained_hmm, tiny_corpus, tmp_path, capsys):
    """The calibration measures the raw boundaries on a split, records its best shift in a new package
    (same weights and compatibility id), and the aligner loaded from it scores what it predicted."""
    from sonicsynth.align.accuracy import summarize_boundary_errors, timed_references
    from sonicsynth.align.calibration import main as calibrate, phone_matches

    raw = tmp_path / "raw"
    package_from_checkpoint(trained_hmm, raw)
    calibrated = tmp_path / "calibrated"
    report = calibrate(["hmm", str(raw), "--out", str(calibrated), "--manifest", str(tiny_corpus),
                        "--split", "train"])
    capsys.readouterr()
    original, package = load_package(raw), load_package(calibrated)
    shifts_ms = report["boundary_shift_ms"]
    assert sorted(shifts_ms) == sorted(BOUNDARY_KINDS)
    assert package.config["boundary_shift_sec"] == {kind: ms / 1000 for kind, ms in shifts_ms.items()}
    assert package.compatibility_id == original.compatibility_id
    assert package.manifest["source"]["calibration"]["boundary_shift_ms"] == shifts_ms
    assert report["within_20ms_calibrated"] >= report["within_20ms_single_shift"]
    assert all(torch.equal(package.state_dict[k], v) for k, v in original.state_dict.items())

    references = timed_references(tiny_corpus, "train", ("mbrola", "festival"))
    matches, failures = phone_matches(create_aligner("hmm", model=calibrated), references, tiny_corpus.parent)
    applied = summarize_boundary_errors(matches)
    assert failures == {} and report["utterances"] == len(matches)
    assert applied["within_20ms"] == report["within_20ms_calibrated"] >= report["uncalibrated"]["within_20ms"]
    # An explicit shift overrides the recorded ones; 0 gives back the raw boundaries.
    unshifted, _ = phone_matches(create_aligner("hmm", model=calibrated, boundary_shift_sec=0.0), references,
                                 tiny_corpus.parent)
    assert summarize_boundary_errors(unshifted) == report["uncalibrated"]
    # Each boundary moved by its kind's shift (the pairing does not depend on the times), or less where
    # a third of a short phone is as far as it may move.
    for raw_match, calibrated_match in zip(unshifted, matches, strict=True):
        assert raw_match.kinds == calibrated_match.kinds
        for (_, raw_hyp), (_, hyp), kind in zip(raw_match.pairs, calibrated_match.pairs, raw_match.kinds):
            moved_ms, shift_ms = (hyp - raw_hyp) * 1000, shifts_ms[kind]
            assert moved_ms == pytest.approx(shift_ms, abs=1e-6) or 0 <= moved_ms / shift_ms < 1
