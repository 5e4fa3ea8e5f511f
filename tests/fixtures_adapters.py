"""Tiny corpora in the exact published layouts, for the corpus adapter tests.

Each `build_*` writes a corpus under the folder it is given (short noise clips at the corpus's real
sample rate) and returns what the manifest must say about each utterance, keyed by id.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from sonicsynth.data.adapters.base import safe_name


@dataclass(frozen=True)
class Expected:
    audio_file: Path
    text: str
    speaker: str
    language: str
    frames: int
    sample_rate: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def write_clip(path: Path, sample_rate: int) -> int:
    """A short noise clip (WAV or FLAC from the suffix) of 50-100 ms; returns its frame count.

    The length comes from the file name, so clips differ in length and every run writes the same.
    """
    seed = zlib.crc32(path.name.encode("utf-8"))
    frames = sample_rate // 20 + seed % (sample_rate // 20)
    samples = np.random.default_rng(seed).uniform(-0.3, 0.3, frames).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, sample_rate, subtype="PCM_16")
    return frames


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def corrupt(path: Path) -> None:
    """Replace a file by bytes that no audio decoder accepts."""
    path.write_bytes(b"this is not audio at all" * 8)


# --- LJSpeech 1.1 -------------------------------------------------------------------------------

LJSPEECH = (
    ("LJ001-0001", "Printing, in the only sense with which we are at present concerned,", None),
    ("LJ001-0002", "in being comparatively modern.", None),
    ("LJ002-0010", 'the Dr. said "no" in 1829.', 'the Doctor said "no" in eighteen twenty-nine.'),
)


def build_ljspeech(root: Path) -> dict[str, Expected]:
    lines, expected = [], {}
    for utterance_id, raw, normalized in LJSPEECH:
        normalized = normalized or raw
        lines.append(f"{utterance_id}|{raw}|{normalized}\n")
        wav = root / "wavs" / f"{utterance_id}.wav"
        expected[utterance_id] = Expected(wav, normalized, "ljspeech", "en", write_clip(wav, 22050), 22050)
    write_text(root / "metadata.csv", "".join(lines))
    write_text(root / "README", "LJ Speech Dataset\n")
    return expected


# --- VCTK ---------------------------------------------------------------------------------------

VCTK = {
    "p225": ("Please call Stella.", "Ask her to bring these things with her from the store."),
    "p226": ("Six spoons of fresh snow peas.", "We also need a small plastic snake."),
    "s5": ("When the sunlight strikes raindrops in the air.", "They act as a prism."),
}
VCTK_SPEAKER_INFO = (
    "ID  AGE  GENDER  ACCENTS  REGION COMMENTS \n"
    "p225  23  F    English    Southern  England\n"
    "p226  22  M    English    Surrey\n"
    "p315  18  M    American    Connecticut   (text missing)\n"
    "s5    22  F    British    Unknown\n"
)


def build_vctk_092(root: Path, mic: str = "mic1") -> dict[str, Expected]:
    """VCTK-Corpus-0.92: FLAC from both microphones; p315 has audio but no transcripts."""
    expected = {}
    for speaker, texts in VCTK.items():
        for number, text in enumerate(texts, start=1):
            utterance_id = f"{speaker}_{number:03d}"
            write_text(root / "txt" / speaker / f"{utterance_id}.txt", f"{text}\n")
            for microphone in ("mic1", "mic2"):
                flac = root / "wav48_silence_trimmed" / speaker / f"{utterance_id}_{microphone}.flac"
                frames = write_clip(flac, 48000)
                if microphone == mic:
                    expected[utterance_id] = Expected(flac, text, speaker, "en", frames, 48000)
    for microphone in ("mic1", "mic2"):
        write_clip(root / "wav48_silence_trimmed" / "p315" / f"p315_001_{microphone}.flac", 48000)
    write_text(root / "speaker-info.txt", VCTK_SPEAKER_INFO)
    write_text(root / "README.txt", "CSTR VCTK Corpus\n")
    return expected


def build_vctk_080(root: Path) -> dict[str, Expected]:
    """VCTK-Corpus (0.80): one WAV per utterance in wav48/."""
    expected = {}
    for speaker, texts in VCTK.items():
        for number, text in enumerate(texts, start=1):
            utterance_id = f"{speaker}_{number:03d}"
            write_text(root / "txt" / speaker / f"{utterance_id}.txt", f"{text}\n")
            wav = root / "wav48" / speaker / f"{utterance_id}.wav"
            expected[utterance_id] = Expected(wav, text, speaker, "en", write_clip(wav, 48000), 48000)
    write_clip(root / "wav48" / "p315" / "p315_001.wav", 48000)
    write_text(root / "speaker-info.txt", VCTK_SPEAKER_INFO)
    return expected


# --- LibriTTS / LibriTTS-R ----------------------------------------------------------------------

LIBRITTS = {
    ("train-clean-100", "19", "198"): (
        ("000000_000000", "Northanger Abbey, chapter one.", "Northanger Abbey, Chapter 1."),
        ("000001_000003", "She was fond of all boy's plays.", "She was fond of all boy's plays."),
    ),
    ("train-clean-100", "26", "495"): (
        ("000004_000000", "Mister Brown arrived at five o'clock.", "Mr. Brown arrived at 5 o'clock."),
        ("000004_000001", "The rest is silence.", "The rest is silence."),
    ),
    ("dev-clean", "84", "121123"): (
        ("000007_000001", "Go, do you hear?", "Go, do you hear?"),
        ("000008_000000", "But in less than five minutes.", "But in less than 5 minutes."),
    ),
}


def build_libritts(root: Path, text: str = "normalized") -> dict[str, Expected]:
    expected = {}
    for (subset, speaker, chapter), sentences in LIBRITTS.items():
        chapter_dir = root / subset / speaker / chapter
        rows = []
        for suffix, normalized, original in sentences:
            utterance_id = f"{speaker}_{chapter}_{suffix}"
            write_text(chapter_dir / f"{utterance_id}.normalized.txt", normalized)
            write_text(chapter_dir / f"{utterance_id}.original.txt", original)
            rows.append(f"{utterance_id}\t{original}\t{normalized}\n")
            wav = chapter_dir / f"{utterance_id}.wav"
            chosen = normalized if text == "normalized" else original
            expected[utterance_id] = Expected(wav, chosen, speaker, "en", write_clip(wav, 24000), 24000)
        write_text(chapter_dir / f"{speaker}_{chapter}.trans.tsv", "".join(rows))
        write_text(chapter_dir / f"{speaker}_{chapter}.book.tsv", "")
    write_text(root / "speakers.tsv", "READER\tGENDER\tSUBSET\tNAME\n19\tF\ttrain-clean-100\tKara Shallenberg\n")
    return expected


# --- AISHELL-3 ----------------------------------------------------------------------------------

AISHELL3 = {
    "train": {
        "SSB00050001": "广 guang3 州 zhou1 女 nv3 大 da4 学 xue2 生 sheng1",
        "SSB00050002": "登 deng1 山 shan1 失 shi1 联 lian2",
        "SSB00090001": "四 si4 天 tian1 警 jing3 方 fang1",
        "SSB00090002": "找 zhao3 到 dao4 了 le5",
    },
    "test": {
        "SSB00110001": "疑 yi2 似 si4 女 nv3 尸 shi1",
        "SSB00110002": "你 ni3 好 hao3",
    },
}


def build_aishell3(root: Path) -> dict[str, Expected]:
    expected = {}
    for part, transcripts in AISHELL3.items():
        lines = []
        for utterance_id, transcript in transcripts.items():
            lines.append(f"{utterance_id}.wav\t{transcript}\n")
            speaker = utterance_id[:7]
            wav = root / part / "wav" / speaker / f"{utterance_id}.wav"
            characters = "".join(transcript.split()[0::2])
            expected[utterance_id] = Expected(wav, characters, speaker, "zh", write_clip(wav, 44100), 44100)
        write_text(root / part / "content.txt", "".join(lines))
    write_text(root / "spk-info.txt", "SSB0005\tA\tfemale\tnorth\n")
    return expected


# --- GPT-SoVITS .list ---------------------------------------------------------------------------


def build_gpt_sovits(root: Path) -> tuple[Path, dict[str, Expected]]:
    """A list in root/lists/ naming clips in root/slicer_opt/ by relative and by absolute path."""
    clips = root / "slicer_opt"
    rows = (
        ("派蒙", "ZH", "vocal_0001.wav", "前面的区域，以后再来探索吧。", "zh"),
        ("派蒙", "all_ja", "vocal_0002.wav", "こんにちは | 世界", "ja"),
        ("alice", "en", "alice one.wav", "Hello there.", "en"),
        ("alice", "yue", "alice_two.wav", "早晨。", "yue"),
    )
    lines, expected = [], {}
    for index, (speaker, code, file_name, text, language) in enumerate(rows):
        wav = clips / file_name
        frames = write_clip(wav, 32000)
        listed = str(wav) if index % 2 else f"../slicer_opt/{file_name}"
        lines.append(f"{listed}|{speaker}|{code}|{text}\n")
        # Spaces and Chinese characters are not filesystem-safe; the adapter makes them safe.
        expected[safe_name(Path(file_name).stem)] = Expected(wav, text, safe_name(speaker), language, frames, 32000)
    list_file = write_text(root / "lists" / "voice.list", "".join(lines))
    return list_file, expected


# --- Montreal Forced Aligner corpus -------------------------------------------------------------


def build_mfa(root: Path) -> dict[str, Expected]:
    """alice: WAV with .lab and with .txt; bob: FLAC, one clip with both .lab and .txt (the .lab wins)."""
    items = (
        ("alice", "001", ".wav", {".lab": "the first sentence"}),
        ("alice", "002", ".wav", {".txt": "the second\nsentence"}),
        ("bob", "001", ".flac", {".lab": "bob speaks"}),
        ("bob", "002", ".flac", {".lab": "from the lab file", ".txt": "from the txt file"}),
    )
    expected = {}
    for speaker, name, audio_suffix, transcripts in items:
        audio = root / speaker / f"{name}{audio_suffix}"
        frames = write_clip(audio, 16000)
        for suffix, text in transcripts.items():
            write_text(root / speaker / f"{name}{suffix}", text)
        text = " ".join(next(iter(transcripts.values())).split())
        expected[f"{speaker}-{name}"] = Expected(audio, text, speaker, "en", frames, 16000)
    return expected


# --- generic CSV / JSON Lines -------------------------------------------------------------------

TABLE_ROWS = (
    {"audio": "wavs/a.wav", "text": "Hello, world", "speaker": "alice", "language": "en"},
    {"audio": "wavs/b.wav", "text": "Bonjour le monde", "speaker": "bob", "language": "fr"},
    {"audio": "wavs/c.wav", "text": "No speaker given", "speaker": "", "language": ""},
)


def table_clips(folder: Path) -> dict[str, Expected]:
    """The clips of TABLE_ROWS; rows without speaker/language get the defaults (table name, "en")."""
    expected = {}
    for row in TABLE_ROWS:
        wav = folder / row["audio"]
        frames = write_clip(wav, 16000)
        speaker, language = row["speaker"] or "clips", row["language"] or "en"
        expected[wav.stem] = Expected(wav, row["text"], speaker, language, frames, 16000)
    return expected
