"""A persistent cache of the front end's output, so a corpus is phonemized once, not at every run.

Phonemizing a corpus calls CMUdict, espeak-ng and jieba for every sentence: seconds for the demo
corpus, hours for LibriTTS. The cache is one JSON-lines file per front-end fingerprint inside a
directory; each line holds one sentence's (text, language) key and its words. The fingerprint covers
the symbol table (version and hash), the front end's languages and `FRONTEND_REVISION`, so a
changed front end starts a new file instead of serving stale phones. A cached sentence can be read
where the grapheme-to-phoneme tools are not installed (a training machine that only reads phones).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sonicsynth.text.phonemized import PhonemizedText, Word
from sonicsynth.text.symbols import SYMBOL_TABLE_VERSION, symbol_table_hash
from sonicsynth.utils.atomic import atomic_write

# Bump when a change to the front end changes its output for some sentence.
FRONTEND_REVISION = "1"


def frontend_fingerprint(languages: tuple[str, ...]) -> str:
    identity = [FRONTEND_REVISION, SYMBOL_TABLE_VERSION, symbol_table_hash(), sorted(languages)]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


def _to_json(text: PhonemizedText) -> dict:
    return {"language": text.language, "normalized_text": text.normalized_text,
            "words": [[w.text, w.phones, w.language] for w in text.words]}


def _from_json(entry: dict) -> PhonemizedText:
    words = [Word(text, list(phones), language) for text, phones, language in entry["words"]]
    return PhonemizedText(entry["language"], entry["normalized_text"], words)


class PhonemizationCache:
    """Front-end results by (text, language) for one front-end fingerprint; `save()` writes new ones."""

    def __init__(self, directory: str | Path, languages: tuple[str, ...]) -> None:
        self.path = Path(directory) / f"phonemized-{frontend_fingerprint(languages)}.jsonl"
        self._entries: dict[str, dict] = {}
        self._changed = False
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as file:
                for number, line in enumerate(file, 1):
                    try:
                        entry = json.loads(line)
                        self._entries[entry["key"]] = entry
                    except (json.JSONDecodeError, KeyError, TypeError) as err:
                        raise ValueError(f"{self.path}, line {number}: not a phonemization cache entry ({err}); "
                                         f"delete the file to rebuild it") from err

    @staticmethod
    def _key(text: str, language: str) -> str:
        return hashlib.sha256(json.dumps([text, language], ensure_ascii=False).encode()).hexdigest()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str, language: str) -> PhonemizedText | None:
        entry = self._entries.get(self._key(text, language))
        return None if entry is None else _from_json(entry)

    def put(self, text: str, language: str, result: PhonemizedText) -> None:
        key = self._key(text, language)
        self._entries[key] = {"key": key, **_to_json(result)}
        self._changed = True

    def save(self) -> None:
        if not self._changed:
            return
        with atomic_write(self.path, "w") as file:
            for entry in self._entries.values():
                file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._changed = False
