"""The demo corpus: the project's default data, built on the spot from Debian speech packages.

Contents: `SENTENCES` (30 phonetically varied English sentences) spoken by every installed synthetic
voice of `tts_engines.ALL_VOICES` (most with ground-truth phone timings), a deterministic subset of
the Czech voice acting from Fish Fillets NG and the LibriVox clips of pocketsphinx-testdata
(`human_speech`). Optionally (`dialogue_lines`), lines of the game's English dialogue, each spoken by
`voices_per_line` of the voices in rotation: text variety for models that learn to read (the
semantic GPT), which 30 sentences cannot give. Layout of the output directory::

    <out>/manifest.jsonl                      one utterance per line (see `sonicsynth.data.manifest`)
    <out>/README                              what is inside, where it came from, licences
    <out>/wavs/<speaker>/<id>.wav             mono 16-bit PCM at the source's native rate
    <out>/alignments/<speaker>/<id>.json      phone timings, for voices that give them

Ids: `<voice>-<sentence index:03d>` for synthetic speech (speaker = voice), `<voice>-line<line
index:04d>` for dialogue lines, `fillets-<clip>` and `librivox-<clip>` for recordings.

Splits are per speaker over the id-sorted utterances: positions 0, 10, 20, ... are "val", 1, 11, 21,
... are "test", the rest "train" (speakers with fewer than 3 utterances are all "train"). For
synthetic voices the same sentences land in val/test for every voice, so no val/test text is ever
heard in training. Dialogue lines are split by line index the same way (0, 10, 20, ... val), whoever
speaks them.

Builds are deterministic (every engine and decoder is; manifest lines are sorted by id) and
resumable: an utterance whose wav (and alignment, if its voice gives one) exists is not made again,
so after editing `SENTENCES` build into a fresh directory. Every file is written under a hidden
temporary name and renamed when complete; leftovers of an interrupted build are deleted at the start
of the next one, and the manifest is written last.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import defaultdict
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from sonicsynth.data.human_speech import (
    HumanClip,
    convert_to_wav,
    fillets_czech_clips,
    fillets_english_lines,
    fillets_installed,
    librivox_clips,
    librivox_installed,
)
from sonicsynth.data.manifest import SPLITS, Utterance, write_alignment, write_manifest
from sonicsynth.data.tts_engines import ALL_VOICES, TtsVoice, installed_voices, voice_by_name
from sonicsynth.utils.atomic import atomic_write

MANIFEST_NAME = "manifest.jsonl"
README_NAME = "README"
VAL_TEST_PERIOD = 10

SENTENCES: tuple[str, ...] = (
    "A gentle breeze carried the smell of fresh bread across the quiet village square.",
    "Would you mind closing the window before the thunderstorm reaches the harbor?",
    "Seven sharp pencils were lying beside a yellow notebook on the kitchen table.",
    "The museum opens at nine, but the guided tours only begin after lunch.",
    "She measured the beige fabric twice, then cut it with unusual precision.",
    "Judge Morgan asked the witness to explain why the garage door was open.",
    "Thousands of birds gathered on the frozen lake, waiting for the thaw.",
    "Please check whether the vegetables need more salt, pepper, or lemon juice.",
    "Our train was delayed by a fallen tree, so we played chess in the waiting room.",
    "How many oysters can a hungry walrus eat in a single afternoon?",
    "The young engineer fixed the noisy pump with a rubber washer and some patience.",
    "Behind the old mill, a narrow path leads through the woods to a hidden pond.",
    "Zoe quickly packed her violin, her passport, and a jar of honey for the journey.",
    "Every autumn the farmers bring pumpkins, apples, and cheese to the market.",
    "If the measurements are correct, the bridge will support twice the expected load.",
    "Nobody knew that the shy librarian had once climbed a mountain in Peru.",
    "The children laughed when the puppy chased its own shadow around the yard.",
    "Thick fog rolled over the hills, and the lighthouse began to flash its warning.",
    "Can you imagine a city where every roof is covered with gardens and solar panels?",
    "He poured a cup of strong coffee and read the letter for the third time.",
    "Loud music echoed through the hallway while the neighbors tried to sleep.",
    "The treasure map showed a cave, a crooked palm tree, and a large black rock.",
    "Whenever it snows, the mail arrives late and the schools close early.",
    "I thought the exhibition was thoughtful, although the lighting was far too dim.",
    "Measure the flour, whisk the eggs, and preheat the oven before you start.",
    "A small boat drifted toward the shore, its white sail flapping in the wind.",
    "The choir rehearsed the final chorus until every voice blended perfectly.",
    "Why does the moon look so much larger when it rises above the horizon?",
    "Jack and Vivian shared a huge bowl of noodles at the busy food stall.",
    "After the long meeting, everyone agreed that the plan needed a fresh approach.",
)


@dataclass(frozen=True)
class DemoCorpusConfig:
    """What goes into the corpus. The defaults are the full demo corpus."""

    voices: tuple[str, ...] | None = None  # voice names (e.g. "mbrola-us1"); None: every installed voice
    sentences: int = len(SENTENCES)  # the first N of SENTENCES
    max_human_per_speaker: int | None = 40  # per recorded speaker; None: all clips, 0: no recordings
    dialogue_lines: int | None = 0  # the first N of human_speech.fillets_english_lines(); None: all of them
    voices_per_line: int = 2
    workers: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.sentences <= len(SENTENCES):
            raise ValueError(f"sentences must be between 0 and {len(SENTENCES)}, got {self.sentences}")
        if self.max_human_per_speaker is not None and self.max_human_per_speaker < 0:
            raise ValueError(f"max_human_per_speaker must be >= 0 or None, got {self.max_human_per_speaker}")
        if self.dialogue_lines is not None and self.dialogue_lines < 0:
            raise ValueError(f"dialogue_lines must be >= 0 or None, got {self.dialogue_lines}")
        if self.voices_per_line < 1:
            raise ValueError(f"voices_per_line must be >= 1, got {self.voices_per_line}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")


@dataclass(frozen=True)
class PlannedUtterance:
    """One utterance to make: `text` spoken by `voice`, or the recording of a human clip."""

    id: str
    text: str
    speaker: str
    language: str
    source: str
    voice: TtsVoice | None = None
    recording: Path | None = None
    split: str | None = None  # fixed by the plan (dialogue lines); None: by position among the speaker's ids

    @property
    def wav_path(self) -> str:
        return f"wavs/{self.speaker}/{self.id}.wav"

    @property
    def alignment_path(self) -> str | None:
        if self.voice is None or not self.voice.gives_timings:
            return None
        return f"alignments/{self.speaker}/{self.id}.json"

    def is_done(self, out_dir: Path) -> bool:
        return (out_dir / self.wav_path).is_file() and (
            self.alignment_path is None or (out_dir / self.alignment_path).is_file()
        )

    def produce(self, out_dir: Path) -> None:
        """Write the wav (and alignment), each under a temporary name renamed when complete."""
        if self.voice is None:
            assert self.recording is not None
            with atomic_write(out_dir / self.wav_path, "wb") as file:
                convert_to_wav(self.recording, file)
            return
        with atomic_write(out_dir / self.wav_path, "wb") as file:
            alignment = self.voice.synthesize(self.text, file)
        if self.alignment_path is not None:
            assert alignment is not None, f"{self.voice.name} promises timings but returned none"
            write_alignment(out_dir / self.alignment_path, alignment)


def _from_clip(clip: HumanClip) -> PlannedUtterance:
    return PlannedUtterance(
        id=clip.utterance_id,
        text=clip.text,
        speaker=clip.speaker,
        language=clip.language,
        source=clip.source,
        recording=clip.recording,
    )


def plan_demo_corpus(config: DemoCorpusConfig) -> tuple[list[PlannedUtterance], list[str]]:
    """Every utterance of the corpus, and notes on sources left out because they are not installed."""
    notes: list[str] = []
    if config.voices is None:
        voices = installed_voices()
        missing = [v for v in ALL_VOICES if v not in voices]
        if missing:
            notes.append("voices not installed: " + ", ".join(f"{v.name} ({v.debian_package})" for v in missing))
    else:
        voices = [voice_by_name(name) for name in config.voices]
        for voice in voices:
            if not voice.is_installed():
                raise RuntimeError(f"voice {voice.name} is not installed (Debian package {voice.debian_package})")
    planned = [
        PlannedUtterance(
            id=f"{voice.name}-{index:03d}",
            text=SENTENCES[index],
            speaker=voice.name,
            language=voice.language,
            source=voice.name,
            voice=voice,
        )
        for voice in voices
        for index in range(config.sentences)
    ]
    if config.dialogue_lines != 0:
        planned += _plan_dialogue_lines(voices, config)
    if config.max_human_per_speaker != 0:
        if fillets_installed():
            planned += [_from_clip(clip) for clip in fillets_czech_clips(config.max_human_per_speaker)]
        else:
            notes.append("Czech clips left out: install Debian packages fillets-ng-data-cs and fillets-ng-data")
        if librivox_installed():
            planned += [_from_clip(clip) for clip in librivox_clips(config.max_human_per_speaker)]
        else:
            notes.append("LibriVox clips left out: install Debian package pocketsphinx-testdata")
    return planned, notes


def _plan_dialogue_lines(voices: list[TtsVoice], config: DemoCorpusConfig) -> list[PlannedUtterance]:
    """Line i spoken by voices i*k ... i*k+k-1 (mod the voice count), k = voices_per_line: every voice
    gets about as many lines, and each line as many different voices."""
    if not voices:
        return []
    lines = fillets_english_lines()
    if config.dialogue_lines is not None:
        if config.dialogue_lines > len(lines):
            raise ValueError(f"dialogue_lines: the installed dialogue has {len(lines)} lines, "
                             f"{config.dialogue_lines} asked for")
        lines = lines[: config.dialogue_lines]
    per_line = min(config.voices_per_line, len(voices))
    planned = []
    for index, line in enumerate(lines):
        split = split_at_position(index)
        for voice in (voices[(index * per_line + j) % len(voices)] for j in range(per_line)):
            planned.append(PlannedUtterance(id=f"{voice.name}-line{index:04d}", text=line, speaker=voice.name,
                                            language=voice.language, source=voice.name, voice=voice, split=split))
    return planned


def split_at_position(position: int) -> str:
    """The split of the item at `position` of a sorted list: 0, 10, 20, ... val, 1, 11, 21, ... test."""
    return {0: "val", 1: "test"}.get(position % VAL_TEST_PERIOD, "train")


def assign_splits(ids_by_speaker: dict[str, list[str]]) -> dict[str, str]:
    """Deterministic per-speaker split of utterance ids (see the module docstring)."""
    splits = {}
    for ids in ids_by_speaker.values():
        for position, utterance_id in enumerate(sorted(ids)):
            if len(ids) < 3:
                splits[utterance_id] = "train"
            else:
                splits[utterance_id] = split_at_position(position)
    return splits


def remove_interrupted_writes(out_dir: Path) -> list[Path]:
    """Delete the temporary files an interrupted build left behind; return what was deleted.

    `atomic_write` stages every file under a hidden name beside its target. Nothing the builder keeps
    is hidden (ids cannot start with "."), so every hidden file under wavs/ and alignments/, and every
    hidden sibling of the manifest or README, is such a leftover.
    """
    leftovers = [p for sub in ("wavs", "alignments") for p in (out_dir / sub).rglob(".*") if p.is_file()]
    leftovers += [p for name in (MANIFEST_NAME, README_NAME) for p in out_dir.glob(f".{name}.*") if p.is_file()]
    for path in leftovers:
        path.unlink()
    return sorted(leftovers)


def _produce_all(items: list[PlannedUtterance], out_dir: Path, workers: int, progress: bool) -> None:
    with tqdm(total=len(items), desc="demo corpus", unit="utt", disable=not progress) as bar:
        if workers == 1 or len(items) <= 1:
            for item in items:
                item.produce(out_dir)
                bar.update()
            return
        # spawn, not fork: the caller may hold threads (torch, a progress bar) that fork would copy mid-state.
        context = multiprocessing.get_context("spawn")
        executor = ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context)
        try:
            futures: list[Future] = [executor.submit(item.produce, out_dir) for item in items]
            for future in futures:
                future.add_done_callback(lambda _: bar.update())
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()  # re-raises the first failure, which names the voice and the text
        finally:
            executor.shutdown(wait=True, cancel_futures=True)


def _describe(item: PlannedUtterance, out_dir: Path, split: str) -> Utterance:
    wav = out_dir / item.wav_path
    try:
        info = sf.info(str(wav))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise ValueError(f"{wav}: unreadable wav in the corpus ({error}); delete it and build again") from error
    return Utterance(
        id=item.id,
        audio_path=item.wav_path,
        text=item.text,
        speaker=item.speaker,
        language=item.language,
        duration=info.frames / info.samplerate,
        sample_rate=info.samplerate,
        source=item.source,
        alignment_path=item.alignment_path,
        split=split,
    )


@dataclass
class CorpusSummary:
    """What a build produced, grouped by source family (engine, or recorded corpus)."""

    utterances: list[Utterance]
    produced: list[str] = field(default_factory=list)  # ids made by this build (the rest existed)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @staticmethod
    def family(source: str) -> str:
        return source if source.startswith("human-") else source.split("-")[0]

    def contents(self) -> str:
        """Totals and a per-family table; depends only on the corpus, not on this run."""
        by_family: dict[str, list[Utterance]] = defaultdict(list)
        for utterance in self.utterances:
            by_family[self.family(utterance.source)].append(utterance)
        total_sec = sum(u.duration for u in self.utterances)
        lines = [
            f"{len(self.utterances)} utterances, {total_sec / 60:.1f} min ({total_sec / 3600:.2f} h), "
            f"{len({u.speaker for u in self.utterances})} speakers",
            f"{'source':16} {'utts':>5} {'min':>6} {'speakers':>8} {'timed':>6}  sample rates (Hz)",
        ]
        for family, group in sorted(by_family.items()):
            rates = ",".join(str(r) for r in sorted({u.sample_rate for u in group}))
            lines.append(
                f"{family:16} {len(group):5d} {sum(u.duration for u in group) / 60:6.1f} "
                f"{len({u.speaker for u in group}):8d} {sum(u.alignment_path is not None for u in group):6d}  {rates}"
            )
        splits = {split: sum(u.split == split for u in self.utterances) for split in SPLITS}
        lines.append("splits: " + ", ".join(f"{name} {count}" for name, count in splits.items()))
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def format(self) -> str:
        return f"{self.contents()}\nmade {len(self.produced)} utterances in this run, {self.seconds:.1f} s"


_RECORDED_SOURCE_NOTES = {
    "human-fillets": "Czech voice acting from Fish Fillets NG (Debian fillets-ng-data-cs; transcripts from\n"
    "                   fillets-ng-data), speakers fillets-m and fillets-v; GPL-2+",
    "human-librivox": "LibriVox reading of Sense and Sensibility, one reader (Debian pocketsphinx-testdata);\n"
    "                   the LibriVox recording is in the public domain",
}


def _write_readme(out_dir: Path, planned: list[PlannedUtterance], summary: CorpusSummary) -> None:
    voices = {item.voice.name: item.voice for item in planned if item.voice is not None}
    voice_lines = [
        f"  {name:18} Debian package {voice.debian_package}; phone timings: {'yes' if voice.gives_timings else 'no'}"
        for name, voice in voices.items()
    ]
    recorded = sorted({item.source for item in planned if item.recording is not None})
    recorded_lines = [f"  {source:16} {_RECORDED_SOURCE_NOTES[source]}" for source in recorded]
    dialogue = ""
    if any(item.split is not None for item in planned):
        dialogue = ("\nDialogue lines (<voice>-line<index>): English text of Fish Fillets NG's dialogue (Debian\n"
                    "fillets-ng-data, GPL-2+), split by line index: 0, 10, 20, ... val, 1, 11, 21, ... test.")
    text = f"""\
sonicsynth demo corpus, built by scripts/build_demo_corpus.py. Do not edit by hand; do not commit.

Layout
  manifest.jsonl                    one utterance per line; format in sonicsynth/data/manifest.py
  wavs/<speaker>/<id>.wav           mono 16-bit PCM at the source's native sample rate
  alignments/<speaker>/<id>.json    the synthesis engine's own phone timings (ground truth)

Splits: per speaker, id-sorted positions 0, 10, 20, ... are val and 1, 11, 21, ... are test.
Synthetic voices all speak the same sentences, so val/test sentences are never heard in training.{dialogue}

Contents
{summary.contents()}

Synthetic voices
{chr(10).join(voice_lines) or "  none"}

Recorded speech
{chr(10).join(recorded_lines) or "  none"}

Licences: each source keeps its own terms (see /usr/share/doc/<package>/copyright); several voices
come from Debian contrib/non-free, some for non-commercial use only. The corpus is for local research
and tests: rebuild it where you need it, do not redistribute it.
"""
    with atomic_write(out_dir / README_NAME, "w") as file:
        file.write(text)


def build_demo_corpus(
    out_dir: str | Path, config: DemoCorpusConfig = DemoCorpusConfig(), progress: bool = True
) -> CorpusSummary:
    """Build (or finish building) the demo corpus in `out_dir`; return a summary of it."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_interrupted_writes(out_dir)
    planned, notes = plan_demo_corpus(config)
    pending = [item for item in planned if not item.is_done(out_dir)]
    _produce_all(pending, out_dir, config.workers, progress)

    ids_by_speaker: dict[str, list[str]] = defaultdict(list)
    for item in planned:
        if item.split is None:
            ids_by_speaker[item.speaker].append(item.id)
    splits = {**assign_splits(ids_by_speaker), **{item.id: item.split for item in planned if item.split is not None}}
    utterances = sorted((_describe(item, out_dir, splits[item.id]) for item in planned), key=lambda u: u.id)
    summary = CorpusSummary(utterances=utterances, produced=sorted(item.id for item in pending), notes=notes)
    _write_readme(out_dir, planned, summary)
    write_manifest(out_dir / MANIFEST_NAME, utterances)
    summary.seconds = time.perf_counter() - started
    return summary
