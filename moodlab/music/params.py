"""From a mood's valence and arousal to the musical parameters of a generated track.

One function, ``params_for``, holds the whole mapping; docs/music.md's "Music library"
section shows it as a table. The cues and their directions follow the music-
psychology literature on how listeners hear emotion in music:

- Eerola, Friberg & Bresin (2013), "Emotional expression in music: contribution,
  linearity, and additivity of primary musical cues", Frontiers in Psychology 4:487.
  Six cues varied systematically: mode and tempo carry the most, then dynamics,
  articulation, register and timbre. Major mode raises valence; fast tempo, loud
  dynamics, staccato articulation and bright timbre raise energy (arousal).
- Juslin & Laukka (2003), "Communication of emotions in vocal expression and music
  performance: different channels, same code?", Psychological Bulletin 129(5).
  Happiness: fast, high pitch, bright, staccato; sadness: slow, low pitch, legato,
  soft, dull; anger: fast, loud, sharp attacks, rough (distorted) timbre; tenderness
  and calm: slow, soft, legato, low brightness.

Valence and arousal come from moods.toml through moodlab.core.moods: nothing here names
a mood.
"""

from __future__ import annotations

from dataclasses import dataclass

from moodlab.core import moods

# Chord progressions as scale degrees (0 = tonic), one list per quadrant of the
# circle; a track picks one with its seed. Major and minor follow the mode cue;
# the high-arousal minor ones carry a major V (harmonic minor) or a diminished ii for tension.
PROGRESSIONS = {
    ("major", "high"): ((0, 4, 5, 3), (0, 3, 4, 3), (5, 3, 0, 4)),
    ("major", "low"): ((0, 3, 0, 4), (0, 5, 3, 4), (3, 0, 3, 4)),
    ("minor", "high"): ((0, 5, 6, 0), (0, 3, 4, 0), (0, 1, 0, 4)),
    ("minor", "low"): ((0, 5, 2, 6), (0, 3, 0, 4), (0, 5, 3, 4)),
}


@dataclass(frozen=True)
class MusicParams:
    mood: str
    valence: float
    arousal: float
    tempo_bpm: float  # beats per minute
    mode: str  # "major" or "minor"
    melody_base: int  # MIDI note at the bottom of the melody's range (register)
    loudness_lufs: float  # integrated loudness the track is normalised to
    density: int  # 0..3: melody notes per beat and drum pattern, from sparse to driving
    articulation: float  # sounded fraction of each note: 0.9 legato .. 0.55 staccato
    brightness: float  # 0..1: how slowly the harmonics fall off (dull .. bright)
    roughness: float  # 0..1: soft distortion for tense, angry moods
    reverb: float  # 0..1: wet share; calm moods sound more spacious
    sevenths: bool  # seventh chords: softer, richer harmony for calm moods

    @property
    def progressions(self) -> tuple[tuple[int, ...], ...]:
        return PROGRESSIONS[(self.mode, "high" if self.arousal >= 0 else "low")]


def params_for(mood_name: str) -> MusicParams:
    mood = moods.get(mood_name)
    v, a = mood.valence, mood.arousal
    return MusicParams(
        mood=mood.name,
        valence=v,
        arousal=a,
        tempo_bpm=round(95 + 45 * a, 1),
        mode="major" if v >= 0 else "minor",
        melody_base=round(67 + 5 * v + 2 * a),
        # +-2 LU around -16 LUFS: energetic moods a little louder, never clipping.
        loudness_lufs=round(-16 + 2 * a, 1),
        density=min(3, max(0, round(1.5 + 1.5 * a))),
        articulation=round(0.9 - 0.35 * (a + 1) / 2, 3),
        brightness=round(min(1.0, max(0.05, 0.5 + 0.45 * a)), 3),
        roughness=round(min(1.0, 2 * max(0.0, a - 0.3) * max(0.0, 0.3 - v)), 3),
        reverb=round(0.3 - 0.15 * a, 3),
        sevenths=a < 0,
    )
