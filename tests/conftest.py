"""Session-wide fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonicsynth.data.demo_corpus import MANIFEST_NAME, DemoCorpusConfig, build_demo_corpus
from sonicsynth.data.tts_engines import voice_by_name

# One voice per engine that gives phone timings.
TINY_CORPUS_VOICES = ("mbrola-us1", "festival-kal", "flite-rms")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo corpus built once per session; returns its manifest path.

    3 synthetic voices with phone timings x 4 sentences, plus 2 clips per recorded speaker (4 Czech
    clips from the two main speakers, 2 LibriVox clips) where those Debian packages are installed.
    Every speaker with 3 or more utterances has train, val and test items. Builds in a few seconds.
    """
    for name in TINY_CORPUS_VOICES:
        voice = voice_by_name(name)
        if not voice.is_installed():
            pytest.skip(f"voice {name} is not installed (Debian package {voice.debian_package}; run scripts/setup.sh)")
    out_dir = tmp_path_factory.mktemp("tiny_corpus")
    config = DemoCorpusConfig(voices=TINY_CORPUS_VOICES, sentences=4, max_human_per_speaker=2)
    build_demo_corpus(out_dir, config, progress=False)
    return out_dir / MANIFEST_NAME
