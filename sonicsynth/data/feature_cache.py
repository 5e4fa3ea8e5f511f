"""The feature cache: per-utterance features keyed by the audio's content and the feature's settings.

Layout under the cache root::

    <feature>-<settings hash>/settings.json            what produced the files below
    <feature>-<settings hash>/<aa>/<audio sha256>.npz  the arrays of one recording
    audio_hashes.json                                  path -> sha256, reused while size and mtime match
    preparation_summary.json                           the last run: counts, timings, every problem

The key is the SHA-256 of the audio file's bytes plus a hash of the extractor's settings, so
renaming a corpus reuses everything, and changing one feature's settings recomputes only that
feature. `prepare_features` is resumable (what exists is reused), runs in worker processes, shows a
progress bar, and never stops at a bad item: each one lands in the summary with its reason.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from tqdm import tqdm

from sonicsynth.audio import SILENCE_PEAK, AudioError, load_audio
from sonicsynth.data.manifest import Utterance, read_manifest
from sonicsynth.features.extractors import FeatureExtractor
from sonicsynth.utils.atomic import atomic_write
from sonicsynth.utils.hashing import sha256_file, sha256_json

log = logging.getLogger(__name__)


def feature_key(extractor: FeatureExtractor) -> str:
    return settings_key(extractor.name, extractor.settings())


def settings_key(name: str, settings: dict[str, Any]) -> str:
    """The cache key of a feature from its name and settings: what `feature_key` gives the extractor
    that has them, without building it (e.g. from the settings a trained model recorded)."""
    return f"{name}-{sha256_json(settings)[:12]}"


class AudioHashIndex:
    """SHA-256 of audio files, remembered by (path, size, mtime) so re-runs do not re-read audio."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}

    def sha256(self, audio: Path) -> str:
        stat = audio.stat()
        key = str(audio.resolve())
        entry = self.entries.get(key)
        if entry is None or entry["size"] != stat.st_size or entry["mtime_ns"] != stat.st_mtime_ns:
            entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256_file(audio)}
            self.entries[key] = entry
        return entry["sha256"]

    def save(self) -> None:
        with atomic_write(self.path, "w") as f:
            json.dump(self.entries, f)


class FeatureCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str, audio_sha256: str) -> Path:
        return self.root / key / audio_sha256[:2] / f"{audio_sha256}.npz"

    def has(self, key: str, audio_sha256: str) -> bool:
        return self.path(key, audio_sha256).exists()

    def load(self, key: str, audio_sha256: str) -> dict[str, np.ndarray]:
        path = self.path(key, audio_sha256)
        if not path.exists():
            raise FileNotFoundError(f"{path}: feature {key} not prepared for this recording; run scripts/prepare_features.py")
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}

    def save(self, key: str, audio_sha256: str, arrays: dict[str, np.ndarray]) -> None:
        path = self.path(key, audio_sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays)

    def write_settings(self, extractor: FeatureExtractor) -> None:
        self.write_settings_of(extractor.name, extractor.settings())

    def write_settings_of(self, name: str, settings: dict[str, Any]) -> str:
        """Record what produces feature `name` (once) and return its key."""
        key = settings_key(name, settings)
        path = self.root / key / "settings.json"
        if not path.exists():
            with atomic_write(path, "w") as f:
                json.dump({"name": name, "settings": settings}, f, indent=2, default=str)
        return key

    def read_settings(self, key: str) -> dict[str, Any]:
        """{"name", "settings"} of a feature in this cache (see `write_settings_of`)."""
        path = self.root / key / "settings.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no feature {key!r} in the cache {self.root}")
        return json.loads(path.read_text())


@dataclass
class PreparationSummary:
    manifest: str
    utterances: int
    computed: Counter = field(default_factory=Counter)
    reused: Counter = field(default_factory=Counter)
    problems: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "utterances": self.utterances, "computed": dict(self.computed),
                "reused": dict(self.reused), "problems": self.problems, "seconds": round(self.seconds, 3)}


# --- worker side: each process builds its own extractors once -----------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(extractor_configs: list[dict], cache_root: str, max_seconds: float | None) -> None:
    # One thread per process: the processes already use the cores.
    import torch

    torch.set_num_threads(1)
    _WORKER["extractors"] = [instantiate(c, _convert_="all") for c in extractor_configs]
    _WORKER["cache"] = FeatureCache(cache_root)
    _WORKER["max_seconds"] = max_seconds


def _prepare_one(job: tuple[str, str, str, list[int]]) -> tuple[str, list[int], str | None]:
    """Compute the missing features of one recording; returns (utterance id, done indices, problem)."""
    utterance_id, audio_path, audio_sha256, missing = job
    extractors = [_WORKER["extractors"][i] for i in missing]
    done, problem = prepare_recording(extractors, _WORKER["cache"], audio_path, audio_sha256, _WORKER["max_seconds"])
    return utterance_id, [missing[i] for i in done], problem


def prepare_recording(
    extractors: list[FeatureExtractor], cache: FeatureCache, audio_path: str | Path, audio_sha256: str,
    max_seconds: float | None = None,
) -> tuple[list[int], str | None]:
    """Compute and cache the features of one recording: (indices of the extractors done, the problem
    that stopped the rest or None). Too long, silent and unreadable audio are problems, not errors."""
    decoded: dict[int, np.ndarray] = {}
    done: list[int] = []
    try:
        for index, extractor in enumerate(extractors):
            rate = extractor.sample_rate
            if rate not in decoded:
                audio = load_audio(audio_path, rate)
                if max_seconds and audio.duration > max_seconds:
                    return done, f"too long: {audio.duration:.1f} s > max_seconds {max_seconds}"
                if float(np.abs(audio.samples).max()) < SILENCE_PEAK:
                    return done, "silent: peak below -80 dBFS"
                decoded[rate] = audio.samples
            cache.save(feature_key(extractor), audio_sha256, extractor(decoded[rate]))
            done.append(index)
    except AudioError as err:
        return done, str(err)
    except Exception as err:  # an extractor failing on one item must not stop the corpus
        return done, f"{audio_path}: {type(err).__name__} in feature extraction: {err}"
    return done, None


def prepare_features(
    manifest_path: str | Path,
    cache_root: str | Path,
    extractor_configs: list[dict],
    workers: int = 2,
    max_seconds: float | None = 60.0,
    progress: bool = True,
) -> PreparationSummary:
    """Fill the cache for every utterance of a manifest; returns (and writes) the summary."""
    start = time.perf_counter()
    manifest_path = Path(manifest_path)
    utterances: list[Utterance] = read_manifest(manifest_path)
    cache = FeatureCache(cache_root)
    cache.root.mkdir(parents=True, exist_ok=True)
    extractors = [instantiate(c, _convert_="all") for c in extractor_configs]
    keys = [feature_key(e) for e in extractors]
    for extractor in extractors:
        cache.write_settings(extractor)

    summary = PreparationSummary(str(manifest_path), len(utterances))
    hashes = AudioHashIndex(cache.root / "audio_hashes.json")
    jobs = []
    for utterance in tqdm(utterances, desc="hashing audio", disable=not progress):
        audio = utterance.audio_file(manifest_path.parent)
        if not audio.is_file():
            summary.problems.append({"id": utterance.id, "path": str(audio), "reason": "missing audio file"})
            continue
        sha = hashes.sha256(audio)
        missing = [i for i, key in enumerate(keys) if not cache.has(key, sha)]
        for i, key in enumerate(keys):
            if i not in missing:
                summary.reused[extractors[i].name] += 1
        if missing:
            jobs.append((utterance.id, str(audio), sha, missing))
    hashes.save()

    paths = {job[0]: job[1] for job in jobs}
    init_args = (extractor_configs, str(cache.root), max_seconds)
    bar = tqdm(total=len(jobs), desc="preparing features", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=init_args) as pool:
            results = pool.map(_prepare_one, jobs, chunksize=4)
            _collect(results, extractors, summary, paths, bar)
    else:
        _init_worker(*init_args)
        _collect(map(_prepare_one, jobs), extractors, summary, paths, bar)
    bar.close()

    summary.seconds = time.perf_counter() - start
    with atomic_write(cache.root / "preparation_summary.json", "w") as f:
        json.dump(summary.as_dict(), f, indent=2)
    if summary.problems:
        log.warning("%d item(s) could not be prepared; see %s", len(summary.problems), cache.root / "preparation_summary.json")
    return summary


def _collect(results, extractors, summary: PreparationSummary, paths: dict[str, str], bar) -> None:
    for utterance_id, done, problem in results:
        for index in done:
            summary.computed[extractors[index].name] += 1
        if problem:
            summary.problems.append({"id": utterance_id, "path": paths[utterance_id], "reason": problem})
        bar.update()
