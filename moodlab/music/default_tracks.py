"""The generated default library's tracks: which ones a library has, and rendering one.

A default track is named by its mood, its number and its own seed (derived from the
library seed), under ``generated/`` in the music dir (moodlab.music.library). The
same synthesiser, mood and seed make the same file, so a track rendered before is
copied from the cache dir instead of rendered again (moodlab.core.reuse).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.reuse import KeptFiles
from moodlab.core.storage import atomic_path, file_sha256
from moodlab.music import audio, synth
from moodlab.music import params as music_params
from moodlab.music.params import MusicParams, track_params

GENERATED_DIR = "generated"
# What a kept track's record holds (moodlab.core.reuse): Rendered's measured fields.
KEPT_RECORD = {"key": str, "duration_s": float, "loudness_lufs": float, "tempo_bpm": float}
# A musical key as the synthesiser names it ("A minor", "Eb major").
KEY_NAME = re.compile(r"[A-G][#b]? (major|minor)")
# A kept track decoding longer or shorter than its record says by more than this is
# another file (MP3 frames and the encoder's padding move it by a few ms).
KEPT_DURATION_TOLERANCE_S = 0.25


@dataclass(frozen=True)
class DefaultTrack:
    mood: str
    number: int  # 1..tracks per mood
    seed: int  # this track's own seed, derived from the library seed
    first_tonic: int = 0  # the key of the mood's track 1, derived from the library seed

    @property
    def params(self) -> MusicParams:
        """The mood's cues (from moods.toml), with this track's tempo, key, lead and length."""
        return track_params(self.mood, self.number, self.first_tonic)

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


def first_tonic(library_seed: int, mood: str) -> int:
    """The key (0 = C .. 11 = B) of a mood's track 1: the others step on from it."""
    return hashlib.sha256(f"{library_seed}:{mood}:key".encode()).digest()[0] % 12


def default_tracks(settings: Settings, seed: int | None = None) -> list[DefaultTrack]:
    library_seed = settings.music_seed if seed is None else seed
    return [
        DefaultTrack(
            mood,
            number,
            track_seed(library_seed, mood, number),
            first_tonic(library_seed, mood),
        )
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
    return KeptFiles(
        settings.cache_dir, "default-tracks", synth, music_params, audio, record=KEPT_RECORD
    )


def check_kept_track(path: Path, made: dict[str, Any], params: MusicParams) -> None:
    """Raise AudioError or ValueError unless ``path`` is the track ``made`` describes: an
    MP3 at the synthesiser's rate that decodes whole, as long as its record says, with
    the track's tempo and a key's name (docs/security.md, "Kept files")."""
    decoded = audio.decode(path, label="the kept track")
    if decoded.codec != "mp3" or decoded.source_rate != synth.SAMPLE_RATE:
        raise ValueError(
            f"it is {decoded.codec} at {decoded.source_rate} Hz, not MP3 at {synth.SAMPLE_RATE} Hz"
        )
    if abs(decoded.duration_s - made["duration_s"]) > KEPT_DURATION_TOLERANCE_S:
        raise ValueError(
            f"it lasts {decoded.duration_s:.2f} s where its record says {made['duration_s']} s"
        )
    if made["tempo_bpm"] != params.tempo_bpm:
        raise ValueError(f"its record's tempo {made['tempo_bpm']} is not the track's")
    if not KEY_NAME.fullmatch(made["key"]):
        raise ValueError(f"its record's key {made['key'][:20]!r} is not a key")


def kept_key(kept: KeptFiles, spec: DefaultTrack) -> str:
    """The key a rendered track is kept under: the synthesiser's code (``kept``), the
    mood's music parameters (from moods.toml), its seed and the sample rate."""
    return kept.key(spec.mood, spec.seed, synth.SAMPLE_RATE, spec.params)


def discard_kept_duplicates(specs: list[DefaultTrack], settings: Settings, taken: set[str]) -> None:
    """Discard the kept tracks of ``specs`` whose file is another's: the same sha256 as
    another kept track of ``specs`` or as a track already in the library (``taken``).

    Two renders never make the same file, so one of them was swapped, and a decode
    cannot tell which; none of them is used, and each is made again.
    """
    kept = kept_tracks(settings)
    keys = {spec: kept_key(kept, spec) for spec in specs}
    by_sha256: dict[str, list[DefaultTrack]] = {}
    for spec, key in keys.items():
        if (sha256 := kept.recorded_sha256(key, ".mp3")) is not None:
            by_sha256.setdefault(sha256, []).append(spec)
    for sha256, same in by_sha256.items():
        if len(same) > 1 or sha256 in taken:
            for spec in same:
                kept.discard(keys[spec], ".mp3", "it is the same file as another track's")


def render_default_track(spec: DefaultTrack, settings: Settings) -> Rendered:
    """Synthesise one track and write it as .mp3 (a temp name, then renamed).

    A track rendered before by the same code for the same mood and seed is copied
    from the cache dir instead (moodlab.core.reuse), once it has decoded as the track
    its record describes (``check_kept_track``); one that does not is made again.
    """
    target = settings.music_dir / spec.path
    kept = kept_tracks(settings)
    params = spec.params  # the mood's place on the circle, from moods.toml, and the track's own
    key = kept_key(kept, spec)
    again = kept.copy_to(
        key, ".mp3", target, check=lambda path, made: check_kept_track(path, made, params)
    )
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
