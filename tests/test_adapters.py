"""Corpus adapters: every published layout -> manifest, bad items -> problems, splits, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from fixtures_adapters import (
    TABLE_ROWS,
    Expected,
    build_aishell3,
    build_gpt_sovits,
    build_libritts,
    build_ljspeech,
    build_mfa,
    build_vctk_080,
    build_vctk_092,
    corrupt,
    table_clips,
    write_clip,
    write_text,
)

from sonicsynth.data.adapters import ADAPTERS, make_manifest, problems_path
from sonicsynth.data.adapters.base import safe_name
from sonicsynth.data.manifest import Utterance, read_manifest
from sonicsynth.data.splits import assign_splits, hold_out_speaker

REPO = Path(__file__).resolve().parents[1]


def build(format: str, root: Path, out: Path, **options) -> list[Utterance]:
    return make_manifest(format, root, out, progress=False, **options)


def check_manifest(utterances: list[Utterance], out: Path, expected: dict[str, Expected], source: str) -> None:
    """The manifest on disk is what was returned and says exactly what the fixture wrote."""
    assert read_manifest(out) == utterances
    assert [u.id for u in utterances] == sorted(expected)
    for utterance in utterances:
        want = expected[utterance.id]
        assert utterance.audio_file(out.parent).resolve() == want.audio_file.resolve(), utterance.id
        assert (utterance.text, utterance.speaker, utterance.language) == (want.text, want.speaker, want.language)
        assert (utterance.duration, utterance.sample_rate) == (want.duration, want.sample_rate), utterance.id
        assert (utterance.source, utterance.alignment_path) == (source, None)


def problems(out: Path, root: Path) -> list[tuple[str, int | None, str]]:
    """(path relative to root, line, reason) of each problem written beside the manifest."""
    records = json.loads(problems_path(out).read_text(encoding="utf-8"))
    return [(Path(r["path"]).relative_to(root).as_posix(), r.get("line"), r["reason"]) for r in records]


def has_problem(found: list[tuple[str, int | None, str]], path: str, reason: str, line: int | None = None) -> bool:
    return any(p == path and l == line and reason in r for p, l, r in found)


def splits(utterances: list[Utterance]) -> dict[str, str]:
    return {u.id: u.split for u in utterances}


# --- LJSpeech -----------------------------------------------------------------------------------


def test_ljspeech_manifest_with_paths_relative_to_the_manifest(tmp_path: Path) -> None:
    root = tmp_path / "LJSpeech-1.1"
    expected = build_ljspeech(root)
    out = tmp_path / "manifest.jsonl"
    utterances = build("ljspeech", root, out)
    check_manifest(utterances, out, expected, "ljspeech")
    assert utterances[0].audio_path == "LJSpeech-1.1/wavs/LJ001-0001.wav"
    assert splits(utterances) == {"LJ001-0001": "val", "LJ001-0002": "train", "LJ002-0010": "train"}
    assert problems(out, root) == []

    raw = build("ljspeech", root, out, text="raw")
    assert raw[-1].text == 'the Dr. said "no" in 1829.'


def test_ljspeech_problems(tmp_path: Path) -> None:
    root = tmp_path / "LJSpeech-1.1"
    build_ljspeech(root)
    with open(root / "metadata.csv", "a", encoding="utf-8") as metadata:
        metadata.write("LJ003-0001|only two fields\n")  # line 4
        metadata.write("LJ003-0002|no audio|no audio\n")  # line 5
        metadata.write("LJ003-0003|has audio but no normalized text|\n")  # line 6
    with open(root / "metadata.csv", "ab") as metadata:
        metadata.write(b"LJ003-0004|caf\xe9|caf\xe9\n")  # line 7: Latin-1, not UTF-8
    write_clip(root / "wavs" / "LJ003-0003.wav", 22050)
    write_clip(root / "wavs" / "LJ009-0009.wav", 22050)
    corrupt(root / "wavs" / "LJ001-0002.wav")
    cut_short = root / "wavs" / "LJ002-0010.wav"
    cut_short.write_bytes(cut_short.read_bytes()[:-1000])  # a copy that stopped early: header unchanged

    utterances = build("ljspeech", root, tmp_path / "manifest.jsonl")
    assert [u.id for u in utterances] == ["LJ001-0001"]
    found = problems(tmp_path / "manifest.jsonl", root)
    assert len(found) == 7
    assert has_problem(found, "wavs/LJ002-0010.wav", "truncated WAV file")
    assert has_problem(found, "metadata.csv", "expected 3 '|'-separated fields", line=4)
    assert has_problem(found, "metadata.csv", "line is not UTF-8 text", line=7)
    assert has_problem(found, "metadata.csv", "audio file missing: ", line=5)
    assert has_problem(found, "metadata.csv", "empty text", line=6)
    assert has_problem(found, "wavs/LJ009-0009.wav", "audio without transcript")
    assert has_problem(found, "wavs/LJ001-0002.wav", "unreadable audio")


# --- VCTK ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mic", ["mic1", "mic2"])
def test_vctk_092_manifest_per_microphone(tmp_path: Path, mic: str) -> None:
    root = tmp_path / "VCTK-Corpus-0.92"
    expected = build_vctk_092(root, mic=mic)
    out = root / "manifest.jsonl"
    utterances = build("vctk", root, out, mic=mic)
    check_manifest(utterances, out, expected, "vctk")
    assert utterances[0].audio_path == f"wav48_silence_trimmed/p225/p225_001_{mic}.flac"
    # speaker-info.txt and the microphone travel in extras.
    assert utterances[0].extras == {"mic": mic, "age": "23", "gender": "F", "accent": "English",
                                    "region": "Southern England"}
    # p315 lost its texts: one problem for the speaker, not one per file.
    assert problems(out, root) == [
        (
            "wav48_silence_trimmed/p315",
            None,
            f"speaker has 1 audio file(s) but no transcripts ({root}/txt/p315 missing)",
        )
    ]


def test_vctk_080_layout(tmp_path: Path) -> None:
    root = tmp_path / "VCTK-Corpus"
    expected = build_vctk_080(root)
    out = tmp_path / "manifest.jsonl"
    check_manifest(build("vctk", root, out), out, expected, "vctk")
    assert [path for path, _, _ in problems(out, root)] == ["wav48/p315"]
    with pytest.raises(ValueError, match="one microphone"):
        build("vctk", root, out, mic="mic2")


def test_vctk_problems(tmp_path: Path) -> None:
    root = tmp_path / "VCTK-Corpus-0.92"
    build_vctk_092(root)
    write_text(root / "txt" / "p225" / "p225_003.txt", "A transcript whose audio is missing.\n")
    write_text(root / "txt" / "p226" / "p226_001.txt", "  \n")
    write_clip(root / "wav48_silence_trimmed" / "p226" / "p226_009_mic1.flac", 48000)
    corrupt(root / "wav48_silence_trimmed" / "s5" / "s5_002_mic1.flac")

    out = root / "manifest.jsonl"
    assert [u.id for u in build("vctk", root, out)] == ["p225_001", "p225_002", "p226_002", "s5_001"]
    found = problems(out, root)
    assert len(found) == 5
    assert has_problem(found, "txt/p225/p225_003.txt", "audio file missing: ")
    assert has_problem(found, "txt/p226/p226_001.txt", "empty text")
    assert has_problem(found, "wav48_silence_trimmed/p226/p226_009_mic1.flac", "audio without transcript")
    assert has_problem(found, "wav48_silence_trimmed/s5/s5_002_mic1.flac", "unreadable audio")
    assert has_problem(found, "wav48_silence_trimmed/p315", "no transcripts")


# --- LibriTTS / LibriTTS-R ----------------------------------------------------------------------


@pytest.mark.parametrize(("format", "text"), [("libritts", "normalized"), ("libritts_r", "original")])
def test_libritts_manifest(tmp_path: Path, format: str, text: str) -> None:
    root = tmp_path / "LibriTTS"
    expected = build_libritts(root, text=text)
    out = root / "manifest.jsonl"
    utterances = build(format, root, out, text=text)
    check_manifest(utterances, out, expected, format)
    assert {u.speaker for u in utterances} == {"19", "26", "84"}
    assert utterances[0].audio_path == "train-clean-100/19/198/19_198_000000_000000.wav"
    assert problems(out, root) == []
    # The other text version and the chapter travel in extras.
    first = next(u for u in utterances if u.id == "26_495_000004_000000")
    other_kind = "original" if text == "normalized" else "normalized"
    other = {"original": "Mr. Brown arrived at 5 o'clock.", "normalized": "Mister Brown arrived at five o'clock."}
    assert first.extras == {"chapter": "495", f"{other_kind}_text": other[other_kind]}


def test_libritts_root_may_be_one_subset(tmp_path: Path) -> None:
    expected = build_libritts(tmp_path / "LibriTTS")
    subset = tmp_path / "LibriTTS" / "dev-clean"
    utterances = build("libritts", subset, subset / "manifest.jsonl")
    assert [u.id for u in utterances] == sorted(i for i in expected if i.startswith("84_"))
    assert utterances[0].audio_path == "84/121123/84_121123_000007_000001.wav"


def test_libritts_problems(tmp_path: Path) -> None:
    root = tmp_path / "LibriTTS"
    build_libritts(root)
    chapter = root / "train-clean-100" / "19" / "198"
    (chapter / "19_198_000000_000000.normalized.txt").unlink()
    write_text(chapter / "19_198_000009_000000.normalized.txt", "Transcript without audio.")
    write_text(root / "train-clean-100" / "26" / "495" / "26_495_000004_000001.normalized.txt", "")
    corrupt(root / "dev-clean" / "84" / "121123" / "84_121123_000008_000000.wav")
    write_text(chapter / "99_198_000001_000000.normalized.txt", "Filed under the wrong speaker.")

    out = root / "manifest.jsonl"
    assert [u.id for u in build("libritts", root, out)] == [
        "19_198_000001_000003",
        "26_495_000004_000000",
        "84_121123_000007_000001",
    ]
    found = problems(out, root)
    assert len(found) == 5
    assert has_problem(found, "train-clean-100/19/198/19_198_000000_000000.wav", "audio without transcript")
    assert has_problem(found, "train-clean-100/19/198/19_198_000009_000000.normalized.txt", "audio file missing")
    assert has_problem(found, "train-clean-100/26/495/26_495_000004_000001.normalized.txt", "empty text")
    assert has_problem(found, "dev-clean/84/121123/84_121123_000008_000000.wav", "unreadable audio")
    assert has_problem(
        found, "train-clean-100/19/198/99_198_000001_000000.normalized.txt", "not in the LibriTTS layout"
    )


# --- AISHELL-3 ----------------------------------------------------------------------------------


def test_aishell3_manifest(tmp_path: Path) -> None:
    root = tmp_path / "data_aishell3"
    expected = build_aishell3(root)
    out = root / "manifest.jsonl"
    utterances = build("aishell3", root, out)
    check_manifest(utterances, out, expected, "aishell3")
    assert splits(utterances)["SSB00050001"] == "val"
    by_id = {u.id: u for u in utterances}
    assert by_id["SSB00050001"].text == "广州女大学生"
    assert by_id["SSB00050001"].extras["pinyin"].split()[:2] == ["guang3", "zhou1"]  # kept beside the characters
    assert by_id["SSB00110002"].audio_path == "test/wav/SSB0011/SSB00110002.wav"
    assert problems(out, root) == []


def test_aishell3_problems(tmp_path: Path) -> None:
    root = tmp_path / "data_aishell3"
    build_aishell3(root)
    with open(root / "train" / "content.txt", "a", encoding="utf-8") as content:
        content.write("SSB00050003.wav\t广 guang3 州\n")  # line 5: a character without pinyin
        content.write("SSB00050004.wav\t广 州 zhou1 guang3\n")  # line 6: out of step
        content.write("speaker5_0001.wav\t你 ni3\n")  # line 7: not an AISHELL-3 name
        content.write("SSB00050005.wav\n")  # line 8: no transcript
        content.write("SSB00050006.wav\t好 hao3\n")  # line 9: no audio
    write_clip(root / "train" / "wav" / "SSB0009" / "SSB00090099.wav", 44100)

    out = root / "manifest.jsonl"
    assert len(build("aishell3", root, out)) == 6
    found = problems(out, root)
    assert len(found) == 6
    content = "train/content.txt"
    assert has_problem(found, content, "3 tokens: characters and pinyin must alternate", line=5)
    assert has_problem(found, content, "'州' where tone-numbered pinyin was expected", line=6)
    assert has_problem(found, content, "not an AISHELL-3 file name", line=7)
    assert has_problem(found, content, "expected '<id>.wav<TAB>characters and pinyin'", line=8)
    assert has_problem(found, content, "audio file missing: ", line=9)
    assert has_problem(found, "train/wav/SSB0009/SSB00090099.wav", "audio without transcript")


# --- GPT-SoVITS .list ---------------------------------------------------------------------------


def test_gpt_sovits_list(tmp_path: Path) -> None:
    list_file, expected = build_gpt_sovits(tmp_path)
    out = tmp_path / "manifest.jsonl"
    utterances = build("gpt_sovits", list_file, out)
    check_manifest(utterances, out, expected, "gpt_sovits")
    by_text = {u.text: u for u in utterances}
    assert by_text["Hello there."].id == f"alice_one-{safe_name('alice one')[-8:]}"
    assert by_text["こんにちは | 世界"].language == "ja"
    assert by_text["早晨。"].speaker == "alice"
    assert by_text["前面的区域，以后再来探索吧。"].speaker == safe_name("派蒙")
    assert by_text["前面的区域，以后再来探索吧。"].extras["speaker_name"] == "派蒙"  # the name as written
    assert {u.audio_path for u in utterances} == {f"slicer_opt/{e.audio_file.name}" for e in expected.values()}
    assert problems(out, tmp_path) == []


def test_gpt_sovits_names_are_made_safe_and_distinct() -> None:
    assert safe_name("alice") == "alice"
    assert safe_name("派蒙") != safe_name("胡桃")
    assert len(safe_name("派蒙")) == 8 and safe_name("vocal 1").startswith("vocal_1-")


def test_gpt_sovits_problems_and_audio_dir(tmp_path: Path) -> None:
    list_file, _ = build_gpt_sovits(tmp_path)
    with open(list_file, "a", encoding="utf-8") as lines:
        lines.write("../slicer_opt/vocal_0001.wav|派蒙|auto|自动\n")  # line 5
        lines.write("../slicer_opt/vocal_0001.wav|派蒙\n")  # line 6
        lines.write("../slicer_opt/gone.wav|派蒙|zh|没有音频\n")  # line 7
        lines.write("../slicer_opt/alice_two.wav|alice|en|   \n")  # line 8
    out = tmp_path / "manifest.jsonl"
    assert len(build("gpt_sovits", list_file, out)) == 4
    found = problems(out, tmp_path)
    assert len(found) == 4
    assert has_problem(found, "lists/voice.list", "unknown language code 'auto'", line=5)
    assert has_problem(found, "lists/voice.list", "expected 'audio|speaker|language|text', found 2", line=6)
    assert has_problem(found, "lists/voice.list", f"audio file missing: {tmp_path}/slicer_opt/gone.wav", line=7)
    assert has_problem(found, "lists/voice.list", "empty text", line=8)

    # A list written on Windows: only the file names are kept, looked up in audio_dir.
    windows = write_text(tmp_path / "windows.list", "D:\\GPT-SoVITS\\output\\slicer_opt\\vocal_0001.wav|派蒙|zh|你好\n")
    utterances = build("gpt_sovits", windows, out, audio_dir=str(tmp_path / "slicer_opt"))
    assert [(u.id, u.audio_path) for u in utterances] == [("vocal_0001", "slicer_opt/vocal_0001.wav")]


# --- Montreal Forced Aligner corpus -------------------------------------------------------------


def test_mfa_corpus_with_speaker_folders(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    expected = build_mfa(root)
    out = tmp_path / "manifest.jsonl"
    utterances = build("mfa", root, out, language="de")
    check_manifest(utterances, out, {i: replace(e, language="de") for i, e in expected.items()}, "mfa")
    assert {u.id: u.text for u in utterances}["bob-002"] == "from the lab file"
    assert problems(out, root) == []


def test_mfa_flat_folder_is_one_speaker_named_after_it(tmp_path: Path) -> None:
    root = tmp_path / "speaker7"
    write_clip(root / "a.wav", 16000)
    write_text(root / "a.lab", "first")
    write_clip(root / "b.flac", 16000)
    write_text(root / "b.txt", "second")
    utterances = build("mfa", root, root / "manifest.jsonl")
    assert [(u.id, u.speaker, u.text, u.audio_path) for u in utterances] == [
        ("speaker7-a", "speaker7", "first", "a.wav"),
        ("speaker7-b", "speaker7", "second", "b.flac"),
    ]


def test_mfa_problems(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    build_mfa(root)
    write_clip(root / "alice" / "003.wav", 16000)
    write_text(root / "alice" / "004.lab", "a transcript without audio")
    write_text(root / "bob" / "001.lab", "")
    (root / "bob" / "002.lab").write_bytes(b"caf\xe9")
    corrupt(root / "alice" / "002.wav")
    write_clip(root / "alice" / "._001.wav", 16000)  # macOS resource file: ignored

    out = tmp_path / "manifest.jsonl"
    assert [u.id for u in build("mfa", root, out)] == ["alice-001"]
    found = problems(out, root)
    assert len(found) == 5
    assert has_problem(found, "alice/003.wav", "audio without transcript")
    assert has_problem(found, "alice/004.lab", f"audio file missing: {root}/alice/004.wav")
    assert has_problem(found, "bob/001.lab", "empty text")
    assert has_problem(found, "bob/002.lab", "transcript is not UTF-8 text")
    assert has_problem(found, "alice/002.wav", "unreadable audio")


# --- generic CSV / JSON Lines -------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    def quoted(value: str) -> str:
        return f'"{value}"' if "," in value else value

    return write_text(path, "".join(",".join(quoted(v) for v in row) + "\n" for row in [header, *rows]))


def test_csv_table(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    expected = table_clips(folder)
    columns = ["audio", "text", "speaker", "language"]
    table = write_csv(folder / "clips.csv", columns, [[row[c] for c in columns] for row in TABLE_ROWS])
    out = folder / "manifest.jsonl"
    utterances = build("csv", table, out)
    check_manifest(utterances, out, expected, "csv")
    assert problems(out, folder) == []

    # "path" is the other default audio column; speaker and language may be left out entirely, and
    # the byte-order mark spreadsheet programs put before the header is ignored.
    table = write_csv(folder / "clips.csv", ["\ufeffpath", "text"], [[row["audio"], row["text"]] for row in TABLE_ROWS])
    assert {(u.speaker, u.language) for u in build("csv", table, out, language="fr")} == {("clips", "fr")}


def test_csv_with_configured_columns(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    table_clips(folder)
    rows = [[f"utt{i}", row["audio"], row["text"], "carol"] for i, row in enumerate(TABLE_ROWS)]
    table = write_text(
        folder / "index.tsv", "".join("\t".join(r) + "\n" for r in [["key", "file", "sentence", "who"], *rows])
    )
    utterances = build(
        "csv",
        table,
        folder / "manifest.jsonl",
        delimiter="\t",
        id_column="key",
        audio_column="file",
        text_column="sentence",
        speaker_column="who",
    )
    assert [(u.id, u.speaker, u.text) for u in utterances] == [
        (f"utt{i}", "carol", r["text"]) for i, r in enumerate(TABLE_ROWS)
    ]


def test_csv_problems(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    table_clips(folder)
    table = write_text(
        folder / "clips.csv",
        "audio,text,speaker\n"
        "wavs/a.wav,fine,alice\n"
        "wavs/b.wav,one field too many,bob,fr\n"  # line 3
        'wavs/c.wav,"an unterminated quote,carol\n'  # line 4
        "wavs/gone.wav,no audio,dave\n"  # line 5
        ",no audio path,erin\n",  # line 6
    )
    out = folder / "manifest.jsonl"
    assert [u.id for u in build("csv", table, out)] == ["a"]
    found = problems(out, folder)
    assert len(found) == 4
    assert has_problem(found, "clips.csv", "expected 3 fields as in the header, found 4", line=3)
    assert has_problem(found, "clips.csv", "malformed CSV", line=4)
    assert has_problem(found, "clips.csv", "audio file missing", line=5)
    assert has_problem(found, "clips.csv", "empty 'audio' field", line=6)

    write_text(table, "file,sentence\nwavs/a.wav,hi\n")
    with pytest.raises(ValueError, match=r"clips\.csv: the header \['file', 'sentence'\] needs an audio column"):
        build("csv", table, out)


def test_jsonl_table(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    expected = table_clips(folder)
    table = write_text(folder / "clips.jsonl", "".join(json.dumps(row) + "\n" for row in TABLE_ROWS))
    out = folder / "manifest.jsonl"
    check_manifest(build("jsonl", table, out), out, expected, "jsonl")
    assert problems(out, folder) == []


def test_jsonl_problems(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    table_clips(folder)
    table = write_text(
        folder / "clips.jsonl",
        '{"path": "wavs/a.wav", "text": "fine", "duration": 0.1}\n'
        '{"path": "wavs/b.wav", "text": "cut off\n'  # line 2
        '["wavs/c.wav", "a list"]\n'  # line 3
        '{"path": "wavs/c.wav"}\n'  # line 4
        '{"path": "wavs/c.wav", "text": 42}\n'  # line 5
        '{"file": "wavs/c.wav", "text": "no audio field"}\n',  # line 6
    )
    out = folder / "manifest.jsonl"
    assert [u.id for u in build("jsonl", table, out)] == ["a"]
    found = problems(out, folder)
    assert found == [
        ("clips.jsonl", 2, "not JSON: Unterminated string starting at (column 32)"),
        ("clips.jsonl", 3, "not a JSON object but a list"),
        ("clips.jsonl", 4, "no 'text' field"),
        ("clips.jsonl", 5, "field 'text' is not a string"),
        ("clips.jsonl", 6, "no audio field (audio or path or audio_path)"),
    ]


# --- whole-run behaviour ------------------------------------------------------------------------


@pytest.mark.parametrize("format", sorted(ADAPTERS))
def test_missing_root_names_the_path(tmp_path: Path, format: str) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "absent")):
        build(format, tmp_path / "absent", tmp_path / "manifest.jsonl")


@pytest.mark.parametrize(
    ("format", "build_corpus", "remove", "message"),
    [
        ("ljspeech", build_ljspeech, "metadata.csv", "LJSpeech metadata file not found"),
        ("ljspeech", build_ljspeech, "wavs", "LJSpeech audio folder not found"),
        ("vctk", build_vctk_092, "txt", "VCTK transcript folder not found"),
        ("vctk", build_vctk_092, "wav48_silence_trimmed", "VCTK audio folder not found"),
        ("aishell3", build_aishell3, "test/content.txt", "AISHELL-3 transcript file not found"),
    ],
)
def test_missing_metadata_names_the_path(tmp_path: Path, format, build_corpus, remove: str, message: str) -> None:
    root = tmp_path / "corpus"
    build_corpus(root)
    target = root / remove
    if target.is_dir():
        for path in sorted(target.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        target.rmdir()
    else:
        target.unlink()
    with pytest.raises(FileNotFoundError, match=message):
        build(format, root, root / "manifest.jsonl")


def test_unknown_format_and_option_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown corpus format 'timit'"):
        build("timit", tmp_path, tmp_path / "m.jsonl")
    with pytest.raises(ValueError, match=r"format 'ljspeech' has no option language \(its options: text\)"):
        build("ljspeech", tmp_path, tmp_path / "m.jsonl", language="fr")
    with pytest.raises(ValueError, match="LJSpeech text must be one of"):
        build("ljspeech", tmp_path, tmp_path / "m.jsonl", text="phonemes")
    with pytest.raises(ValueError, match="val_every must be None or an integer >= 2"):
        build("ljspeech", tmp_path, tmp_path / "m.jsonl", val_every=1)


def test_manifest_may_live_outside_the_corpus(tmp_path: Path) -> None:
    root = tmp_path / "LJSpeech-1.1"
    build_ljspeech(root)
    out = tmp_path / "elsewhere" / "manifest.jsonl"
    build("ljspeech", root, out)
    utterances = read_manifest(out)
    assert all(u.audio_path.startswith("../LJSpeech-1.1/wavs/") for u in utterances)
    assert all(u.audio_file(out.parent).resolve().is_file() for u in utterances)


def test_a_corpus_without_usable_utterances_is_an_error_with_its_problems_listed(tmp_path: Path) -> None:
    root = tmp_path / "LJSpeech-1.1"
    build_ljspeech(root)
    for wav in (root / "wavs").iterdir():
        corrupt(wav)
    out = root / "manifest.jsonl"
    with pytest.raises(ValueError, match=r"no usable utterances .*\(3 problems"):
        build("ljspeech", root, out)
    assert not out.exists() and len(problems(out, root)) == 3


def test_output_is_deterministic_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "VCTK-Corpus-0.92"
    build_vctk_092(root)
    outputs = []
    for name in ("first.jsonl", "second.jsonl"):
        with caplog.at_level("INFO", logger="sonicsynth.data.adapters"):
            build("vctk", root, root / name, val_every=None, test_every=2)
        outputs.append([(root / name).read_text(), problems_path(root / name).read_text()])
    assert outputs[0] == outputs[1]
    assert "vctk: 6 utterances, 3 speakers" in caplog.text and "train 3, val 0, test 3" in caplog.text
    assert "1 items left out" in caplog.text


# --- splits -------------------------------------------------------------------------------------


def utterance(utterance_id: str, speaker: str) -> Utterance:
    return Utterance(utterance_id, f"{utterance_id}.wav", "text", speaker, "en", 1.0, 16000, "test", None, "train")


def test_a_held_out_speaker_leaves_the_base_and_keeps_its_held_out_sentences() -> None:
    target = [replace(utterance(f"t{i:02d}", "t"), duration=20.0, split=("val", "test", "train", "train", "train",
                                                                       "train")[i]) for i in range(6)]
    others = [utterance("a00", "a"), utterance("b00", "b")]
    base, few_shot = hold_out_speaker(others + list(reversed(target)), "t", train_seconds=30.0)
    assert [u.id for u in base] == ["a00", "b00"]
    # val and test as they are; train clips in id order until 30 s (20 s + 20 s); t04, t05 in neither
    assert [(u.id, u.split) for u in few_shot] == [("t00", "val"), ("t01", "test"), ("t02", "train"), ("t03", "train")]
    with pytest.raises(ValueError, match=r"speaker 'x' has no utterances \(speakers: a, b, t\)"):
        hold_out_speaker(others + target, "x", train_seconds=30.0)
    with pytest.raises(ValueError, match="train_seconds must be positive"):
        hold_out_speaker(target, "t", train_seconds=0)


def test_splits_by_utterance_are_per_speaker_and_order_independent() -> None:
    items = [utterance(f"a{i:02d}", "a") for i in range(12)] + [utterance("b00", "b"), utterance("c00", "c")]
    assigned = assign_splits(list(reversed(items)), val_every=5)
    assert assigned == assign_splits(items, val_every=5)
    assert [u.id for u in assigned] == sorted(u.id for u in items)
    held_out = {u.id for u in assigned if u.split == "val"}
    assert held_out == {"a00", "a05", "a10"}  # b and c have one utterance each: kept for training

    with_test = splits(assign_splits(items, val_every=3, test_every=4))
    assert [i for i, s in with_test.items() if s == "test"] == ["a00", "a04", "a08"]
    # val counts the 9 utterances left after test: a01 a02 a03 a05 a06 a07 a09 a10 a11
    assert [i for i, s in with_test.items() if s == "val"] == ["a01", "a05", "a09"]

    shifted = splits(assign_splits(items, val_every=5, seed=2))
    assert [i for i, s in shifted.items() if s == "val"] == ["a03", "a08"]


def test_splits_by_speaker_hold_out_whole_speakers() -> None:
    items = [utterance(f"{speaker}{i}", speaker) for speaker in "abcdef" for i in range(3)]
    assigned = splits(assign_splits(items, val_every=3, test_every=4, by="speaker"))
    assert {i[0] for i, s in assigned.items() if s == "test"} == {"a", "e"}
    # val numbers the speakers left after test: b 0, c 1, d 2, f 3
    assert {i[0] for i, s in assigned.items() if s == "val"} == {"b", "f"}
    assert {i[0] for i, s in assigned.items() if s == "train"} == {"c", "d"}
    # A single speaker cannot be held out without leaving nothing to train on.
    assert set(splits(assign_splits(items[:3], by="speaker")).values()) == {"train"}


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_writes_manifest_and_problems(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    build_mfa(root)
    write_clip(root / "alice" / "009.wav", 16000)
    out = root / "manifest.jsonl"
    command = [sys.executable, str(REPO / "scripts" / "make_manifest.py"), "--format", "mfa", "--root", str(root)]
    done = subprocess.run(
        [*command, "--out", str(out), "--language", "nl", "--split-by", "speaker", "--val-every", "2"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    utterances = read_manifest(out)
    assert {(u.speaker, u.split, u.language) for u in utterances} == {("alice", "val", "nl"), ("bob", "train", "nl")}
    assert "mfa: 4 utterances, 2 speakers" in done.stderr and "1 items left out" in done.stderr
    assert problems(out, root) == [("alice/009.wav", None, "audio without transcript (no .lab or .txt beside it)")]

    failed = subprocess.run(
        [*command, "--out", str(out), "--option", "mic=mic2"], check=False, capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 1
    assert "error: format 'mfa' has no option mic (its options: language)" in failed.stderr
