"""The generated default library's tracks: which ones a library has, and rendering one.

A default track is named by its mood, its number and its own seed (derived from the
library seed), under ``generated/`` in the music dir (moodlab.music.library). The
same synthesiser, mood and seed make the same file, so a track rendered before is
copied from the cache dir instead of rendered again (moodlab.core.reuse).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.reuse import KeptFiles
from moodlab.core.storage import atomic_path, file_sha256
from moodlab.music import audio, synth
from moodlab.music import params as music_params
from moodlab.music.params import params_for

GENERATED_DIR = "generated"


@dataclass(frozen=True)
class DefaultTrack:
    mood: str
    number: int  # 1..tracks per mood
    seed: int  # this track's own seed, derived from the library seed

    @property
    def path(self) -> str:
        return f"{GENERATED_DIR}/{self.mood.lower()}-{self.number}-seed{self.seed}.mp3"

    @property
    def title(self) -> str:
        return f"{self.mood} {self.number}"


def track_seed(library_seed: int, mood: str, number: int) -> int:
    """A stable per-track seed (Python's hash() changes between runs; sha256 does not)."""
    digest = hashlib.sha256(f"{library_seed}:{mood}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def default_tracks(settings: Settings, seed: int | None = None) -> list[DefaultTrack]:
    library_seed = settings.music_seed if seed is None else seed
    return [
        DefaultTrack(mood, number, track_seed(library_seed, mood, number))
        for mood in moods.names()
        for number in range(1, settings.music_tracks_per_mood + 1)
    ]


@dataclass(frozen=True)
class Rendered:
    spec: DefaultTrack
    key: str
    duration_s: float
    loudness_lufs: float
    tempo_bpm: float
    sha256: str


def kept_tracks(settings: Settings) -> KeptFiles:
    """Rendered default tracks kept for reuse, keyed by the synthesiser's code."""
    return KeptFiles(settings.cache_dir, "default-tracks", synth, music_params, audio)


def render_default_track(spec: DefaultTrack, settings: Settings) -> Rendered:
    """Synthesise one track and write it as .mp3 (a temp name, then renamed).

    A track rendered before by the same code for the same mood and seed is copied
    from the cache dir instead (moodlab.core.reuse).
    """
    target = settings.music_dir / spec.path
    kept = kept_tracks(settings)
    params = params_for(spec.mood)  # the mood's place on the circle, from moods.toml
    key = kept.key(spec.mood, spec.seed, synth.SAMPLE_RATE, params)
    again = kept.copy_to(key, ".mp3", target)
    if again is not None:
        return Rendered(spec=spec, sha256=file_sha256(target), **again)
    piece = synth.render(params, seed=spec.seed)
    with atomic_path(target) as temporary:
        audio.encode_mp3(piece.samples, synth.SAMPLE_RATE, temporary)
    made: dict[str, Any] = {
        "key": piece.key,
        "duration_s": round(piece.duration_s, 2),
        "loudness_lufs": round(audio.loudness_lufs(piece.samples, synth.SAMPLE_RATE), 1),
        "tempo_bpm": piece.tempo_bpm,
    }
    kept.keep(key, ".mp3", target, made)
    return Rendered(spec=spec, sha256=file_sha256(target), **made)
