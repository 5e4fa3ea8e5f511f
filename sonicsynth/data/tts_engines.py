"""Debian text-to-speech voices as a source of speech with ground-truth phone timings.

One small class per engine; each instance is one voice. `synthesize(text, wav_file)` writes a mono
16-bit wav and returns the engine's own phone timings (an `Alignment`) where the engine exposes them:

  MBROLA    espeak-ng turns text into a .pho file (phone + duration in ms) and mbrola renders exactly
            those durations, so the timings are the synthesis input itself.
  festival  the Segment relation of the synthesised utterance (Scheme API) holds each phone's end time.
            Not for don_diphone: its older diphone module drifts from its labels (the audio ends 20 ms
            before to 110 ms after the last label), so that voice is speech only.
  flite     `-psdur` prints each phone's end time. Only the clustergen voices awb, rms and slt are used:
            the diphone voice kal labels 110-125 ms more than its audio holds (and is festival's kal
            speaker again, at 8 kHz).
  RHVoice   no timing output: speech only.
  pico      no timing output: speech only.

Timings are checked against the audio: the last phone must end within `MAX_END_MISMATCH_SEC` of the
audio's end, and is then stretched or cut to end exactly there. The mismatch is the engine's tail
handling, not a timing error: festival's diphone voices overlap-add 20-30 ms of silence after the
final pause, MBROLA and flite stop up to 9 ms before their last label. Anything larger raises
`SynthesisError`. (Checked on the 30 demo sentences: the shift that best lines up the labelled pauses
with the quiet stretches of the audio has a median of 0-11 ms for every voice used with timings, 26 ms
and a drifting end for don.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import BinaryIO, NamedTuple

import soundfile as sf

from sonicsynth.data.manifest import Alignment, PhoneSpan, WordSpan

MAX_END_MISMATCH_SEC = 0.05
# Long enough for the slowest voice on a slow, loaded machine; a hung engine must not stall a build.
COMMAND_TIMEOUT_SEC = 120
# The silence symbols of the native phone sets used here: MBROLA "_", festival/flite "pau", festival mrpa "#".
SILENCE_PHONES = frozenset({"_", "pau", "#"})
# espeak-ng's .pho output starts speech at sample 0; every other engine (and any recording) leads with
# a short pause, and the first diphone then has its natural silence context.
MBROLA_LEADING_SILENCE_MS = 100


class SynthesisError(RuntimeError):
    """An engine failed or produced unusable output; the message names the voice and the text."""


def _run(command: list[str], voice: TtsVoice, text: str, stdin: str | None = None) -> str:
    """Run an engine command; return its stdout, or raise SynthesisError naming voice, text and stderr."""
    try:
        result = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SEC, check=True
        )
    except subprocess.CalledProcessError as error:
        raise SynthesisError(
            f"{voice.name}: `{command[0]}` exited with status {error.returncode} for text {text!r}: "
            f"{(error.stderr or error.stdout or '').strip()[-800:]}"
        ) from error
    except subprocess.TimeoutExpired as error:
        raise SynthesisError(
            f"{voice.name}: `{command[0]}` timed out after {error.timeout} s for text {text!r}"
        ) from error
    except OSError as error:
        raise SynthesisError(f"{voice.name}: cannot run `{command[0]}` ({error}) for text {text!r}") from error
    return result.stdout


def _merge_adjacent_silences(phones: list[PhoneSpan]) -> list[PhoneSpan]:
    # Engines emit runs like "_ 150" + "_ 1" at clause ends; one pause is one phone.
    merged: list[PhoneSpan] = []
    for span in phones:
        if merged and span.phone in SILENCE_PHONES and merged[-1].phone == span.phone:
            merged[-1] = merged[-1]._replace(end=span.end)
        else:
            merged.append(span)
    return merged


def _round(seconds: float) -> float:
    # Microseconds: finer than any sample period here, and keeps the JSON readable.
    return round(seconds, 6)


class Rendering(NamedTuple):
    """What an engine run leaves behind: its wav file and, where the engine gives them, its timings."""

    wav: Path
    phones: list[PhoneSpan] | None = None
    words: list[WordSpan] | None = None
    phone_set: str | None = None


class TtsVoice(ABC):
    """One voice of one engine. Subclasses are frozen dataclasses, so voices pickle to worker processes."""

    language = "en"

    @property
    @abstractmethod
    def name(self) -> str:
        """Source name, e.g. "mbrola-us1"; also the speaker name in the demo corpus."""

    @property
    @abstractmethod
    def debian_package(self) -> str:
        """The Debian package that provides the voice."""

    @property
    @abstractmethod
    def gives_timings(self) -> bool:
        """Whether `synthesize` returns phone timings."""

    @abstractmethod
    def is_installed(self) -> bool:
        """Whether the engine and this voice are present on this machine."""

    @abstractmethod
    def _render(self, text: str, workdir: Path) -> Rendering:
        """Run the engine in `workdir`, which is deleted afterwards."""

    def synthesize(self, text: str, wav_file: str | Path | BinaryIO) -> Alignment | None:
        """Write `text` spoken by this voice to `wav_file` (mono, 16-bit PCM, the voice's native rate).

        Returns the engine's phone timings, or None for engines that do not expose them.
        """
        if not text.strip():
            raise SynthesisError(f"{self.name}: nothing to say (empty text)")
        with TemporaryDirectory(prefix=f"sonicsynth-{self.name}-") as workdir:
            raw_wav, phones, words, phone_set = self._render(text, Path(workdir))
            try:
                samples, sample_rate = sf.read(raw_wav, dtype="int16", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as error:
                raise SynthesisError(
                    f"{self.name}: unreadable output {raw_wav.name} for text {text!r} ({error})"
                ) from error
        if samples.shape[1] != 1 or samples.shape[0] == 0:
            raise SynthesisError(f"{self.name}: expected mono audio, got shape {samples.shape} for text {text!r}")
        # Re-encoding gives every voice the same plain RIFF header, whatever the engine wrote.
        sf.write(wav_file, samples[:, 0], sample_rate, subtype="PCM_16", format="WAV")
        if phones is None:
            return None
        assert phone_set is not None
        duration = samples.shape[0] / sample_rate
        return Alignment(
            phone_set=phone_set,
            source=self.name,
            phones=tuple(self._fit_to_audio(phones, duration, text)),
            words=None if words is None else tuple(w._replace(end=min(w.end, duration)) for w in words),
        )

    def _fit_to_audio(self, phones: list[PhoneSpan], duration: float, text: str) -> list[PhoneSpan]:
        phones = _merge_adjacent_silences(phones)
        previous_end = 0.0
        for span in phones:
            if span.start != previous_end or span.end < span.start:
                raise SynthesisError(f"{self.name}: phone timings are not contiguous at {span} for text {text!r}")
            previous_end = span.end
        mismatch = duration - phones[-1].end
        if abs(mismatch) > MAX_END_MISMATCH_SEC or phones[-1].start >= duration:
            raise SynthesisError(
                f"{self.name}: phone timings end at {phones[-1].end:.3f} s but the audio lasts {duration:.3f} s "
                f"for text {text!r}"
            )
        phones[-1] = phones[-1]._replace(end=duration)
        return [PhoneSpan(p.phone, _round(p.start), _round(p.end)) for p in phones]


def _spans_from_ends(labelled_ends: list[tuple[str, float]]) -> list[PhoneSpan]:
    """Engines report end times only; each phone starts where the previous one ended."""
    spans, start = [], 0.0
    for phone, end in labelled_ends:
        spans.append(PhoneSpan(phone, start, end))
        start = end
    return spans


@dataclass(frozen=True)
class MbrolaVoice(TtsVoice):
    """An MBROLA diphone voice driven by espeak-ng's `mb-<voice>` front end."""

    voice: str  # us1, us2, us3, en1

    @property
    def name(self) -> str:
        return f"mbrola-{self.voice}"

    @property
    def debian_package(self) -> str:
        return f"mbrola-{self.voice}"

    @property
    def gives_timings(self) -> bool:
        return True

    @property
    def database(self) -> Path:
        return Path("/usr/share/mbrola") / self.voice / self.voice

    def is_installed(self) -> bool:
        return bool(shutil.which("espeak-ng") and shutil.which("mbrola") and self.database.is_file())

    def _render(self, text: str, workdir: Path) -> Rendering:
        text_file, espeak_pho, pho, wav = (workdir / n for n in ("text.txt", "espeak.pho", "voice.pho", "out.wav"))
        text_file.write_text(text, encoding="utf-8")
        _run(
            ["espeak-ng", "-v", f"mb-{self.voice}", "-q", "--pho", f"--phonout={espeak_pho}", "-f", str(text_file)],
            self,
            text,
        )
        lines = [("_", f"_\t{MBROLA_LEADING_SILENCE_MS}")]
        for line in espeak_pho.read_text(encoding="utf-8").splitlines():
            # Comments start with ';'; '#' is mbrola's flush command; neither is a phone.
            if line.strip() and not line.startswith((";", "#")):
                lines.append((line.split()[0], line))
        # `-e`: a diphone missing from the database is skipped, as espeak-ng itself does, not fatal.
        pho.write_text("\n".join(line for _, line in lines) + "\n", encoding="utf-8")
        _run(["mbrola", "-e", str(self.database), str(pho), str(wav)], self, text)
        ends, elapsed_ms = [], 0.0
        for phone, line in lines:
            elapsed_ms += float(line.split()[1])
            ends.append((phone, elapsed_ms / 1000))
        return Rendering(wav, _spans_from_ends(ends), phone_set="mbrola-sampa")


@lru_cache(maxsize=1)
def _festival_voices() -> frozenset[str]:
    if not shutil.which("festival"):
        return frozenset()
    listing = subprocess.run(
        ["festival", "--batch", "(print (voice.list))"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SEC
    ).stdout
    return frozenset(re.findall(r"[\w-]+", listing))


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_FESTIVAL_SCRIPT = """\
(voice_{voice})
(set! utt (utt.synth (Utterance Text {text})))
(utt.save.wave utt {wav} 'riff)
(format t "PHONESET %s\\n" (cadr (assoc 'name (PhoneSet.description '(name)))))
(mapcar (lambda (s) (format t "SEG %s %f\\n" (item.name s) (item.feat s "end"))) (utt.relation.items utt 'Segment))
(mapcar (lambda (w) (format t "WORD %s %f %f\\n" (item.name w) (item.feat w "word_start") (item.feat w "word_end")))
        (utt.relation.items utt 'Word))
(format t "DONE\\n")
"""


@dataclass(frozen=True)
class FestivalVoice(TtsVoice):
    """A festival voice; timings come from the utterance's Segment relation."""

    speaker: str  # short name used in the source name, e.g. "kal"
    scheme_voice: str  # festival's voice name, e.g. "kal_diphone"
    package: str
    timings_match_audio: bool = True

    @property
    def name(self) -> str:
        return f"festival-{self.speaker}"

    @property
    def debian_package(self) -> str:
        return self.package

    @property
    def gives_timings(self) -> bool:
        return self.timings_match_audio

    def is_installed(self) -> bool:
        return self.scheme_voice in _festival_voices()

    def _render(self, text: str, workdir: Path) -> Rendering:
        wav, script = workdir / "out.wav", workdir / "synth.scm"
        script.write_text(
            _FESTIVAL_SCRIPT.format(voice=self.scheme_voice, text=_scheme_string(text), wav=_scheme_string(str(wav))),
            encoding="utf-8",
        )
        output = _run(["festival", "--batch", str(script)], self, text)
        # festival exits 0 after a Scheme error, so a missing DONE marker is the failure signal.
        if "DONE" not in output.splitlines():
            raise SynthesisError(f"{self.name}: festival did not finish the script for text {text!r}: {output[-800:]}")
        phone_set, ends, words = "", [], []
        for line in output.splitlines():
            tag, _, rest = line.partition(" ")
            if tag == "PHONESET":
                phone_set = f"festival-{rest}"
            elif tag == "SEG":
                phone, end = rest.rsplit(" ", 1)
                ends.append((phone, float(end)))
            elif tag == "WORD":
                word, start, end = rest.rsplit(" ", 2)
                words.append(WordSpan(word, _round(float(start)), _round(float(end))))
        if not self.timings_match_audio:
            return Rendering(wav)
        return Rendering(wav, _spans_from_ends(ends), words, phone_set)


@lru_cache(maxsize=1)
def _flite_voices() -> frozenset[str]:
    if not shutil.which("flite"):
        return frozenset()
    listing = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SEC).stdout
    return frozenset(listing.partition(":")[2].split())


@dataclass(frozen=True)
class FliteVoice(TtsVoice):
    """A flite voice; `-psdur` prints "phone:end_seconds" for every segment, a line per utterance."""

    voice: str  # awb, rms, slt

    @property
    def name(self) -> str:
        return f"flite-{self.voice}"

    @property
    def debian_package(self) -> str:
        return "flite"

    @property
    def gives_timings(self) -> bool:
        return True

    def is_installed(self) -> bool:
        return self.voice in _flite_voices()

    def _render(self, text: str, workdir: Path) -> Rendering:
        text_file, wav = workdir / "text.txt", workdir / "out.wav"
        text_file.write_text(text, encoding="utf-8")
        output = _run(["flite", "-voice", self.voice, "-psdur", "-f", str(text_file), "-o", str(wav)], self, text)
        # One line per utterance (flite splits the text at sentence ends), each timed from its own start;
        # the wav holds them back to back.
        ends, offset = [], 0.0
        for line in output.splitlines():
            for token in line.split():
                phone, _, end = token.rpartition(":")
                ends.append((phone, offset + float(end)))
            offset = ends[-1][1] if ends else offset
        return Rendering(wav, _spans_from_ends(ends), phone_set="flite-cmu")


@dataclass(frozen=True)
class RHVoiceVoice(TtsVoice):
    """An RHVoice voice; the command-line client exposes no timings."""

    voice: str  # profile name: alan, bdl, clb, slt, evgeniy-eng, lyubov
    speaker: str  # short name used in the source name

    @property
    def name(self) -> str:
        return f"rhvoice-{self.speaker}"

    @property
    def debian_package(self) -> str:
        return "rhvoice-english"

    @property
    def gives_timings(self) -> bool:
        return False

    def is_installed(self) -> bool:
        return bool(shutil.which("RHVoice-test")) and (Path("/usr/share/RHVoice/voices") / self.voice).is_dir()

    def _render(self, text: str, workdir: Path) -> Rendering:
        wav = workdir / "out.wav"
        _run(["RHVoice-test", "-p", self.voice, "-o", str(wav)], self, text, stdin=text)
        return Rendering(wav)


@dataclass(frozen=True)
class PicoVoice(TtsVoice):
    """An SVOX Pico voice (`pico2wave`); no timings."""

    locale: str  # en-US or en-GB: two different female speakers

    @property
    def name(self) -> str:
        return f"pico-{self.locale.lower()}"

    @property
    def debian_package(self) -> str:
        return "libttspico-utils"

    @property
    def gives_timings(self) -> bool:
        return False

    def is_installed(self) -> bool:
        lang_dir = Path("/usr/share/pico/lang")
        return bool(shutil.which("pico2wave")) and any(lang_dir.glob(f"{self.locale}_*_sg.bin"))

    def _render(self, text: str, workdir: Path) -> Rendering:
        wav = workdir / "out.wav"  # pico2wave insists on a .wav name
        _run(["pico2wave", f"--lang={self.locale}", f"--wave={wav}", "--", text], self, text)
        return Rendering(wav)


# Every English voice the Debian archive offers these engines, one per distinct-sounding speaker.
# Order is the corpus order. flite's kal/kal16 (festival's kal, wrong timings) and awb_time (a
# limited-domain clock voice) are left out.
ALL_VOICES: tuple[TtsVoice, ...] = (
    MbrolaVoice("us1"),
    MbrolaVoice("us2"),
    MbrolaVoice("us3"),
    MbrolaVoice("en1"),
    FestivalVoice("kal", "kal_diphone", "festvox-kallpc16k"),
    FestivalVoice("ked", "ked_diphone", "festvox-kdlpc16k"),
    FestivalVoice("rab", "rab_diphone", "festvox-rablpc16k"),
    FestivalVoice("don", "don_diphone", "festvox-don", timings_match_audio=False),
    FestivalVoice("slt", "cmu_us_slt_arctic_hts", "festvox-us-slt-hts"),
    FliteVoice("awb"),
    FliteVoice("rms"),
    FliteVoice("slt"),
    RHVoiceVoice("alan", "alan"),
    RHVoiceVoice("bdl", "bdl"),
    RHVoiceVoice("clb", "clb"),
    RHVoiceVoice("slt", "slt"),
    RHVoiceVoice("evgeniy-eng", "evgeniy"),
    RHVoiceVoice("lyubov", "lyubov"),
    PicoVoice("en-US"),
    PicoVoice("en-GB"),
)


def voice_by_name(name: str) -> TtsVoice:
    """The voice whose source name is `name`; ValueError listing the known names otherwise."""
    for voice in ALL_VOICES:
        if voice.name == name:
            return voice
    raise ValueError(f"unknown voice {name!r}; known voices: {', '.join(v.name for v in ALL_VOICES)}")


def installed_voices() -> list[TtsVoice]:
    return [voice for voice in ALL_VOICES if voice.is_installed()]
