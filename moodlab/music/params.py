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

from dataclasses import dataclass, replace

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
class Lead:
    """The melody's instrument: additive-synthesis settings that give it its colour."""

    name: str
    harmonics: int  # how many partials: 3 is nearly a sine (a flute), 12 is reedy
    pluck: float | None  # struck and decaying (higher = shorter); 0 sustained; None: the mood's
    attack_s: float | None  # None: the mood's (slower for dull, calm moods)
    vibrato: bool  # on notes of a beat or longer
    brightness: float  # added to the mood's brightness (clipped to 0.05..1)


# The mood's own lead, as every track had before leads varied.
MOOD_LEAD = Lead("mood lead", 10, None, None, True, 0.0)
# Four instruments for the tracks of one mood to differ by (a track number picks one).
LEADS = (
    Lead("soft synth lead", 10, None, None, True, 0.0),
    Lead("electric piano", 8, 2.2, 0.004, False, 0.1),
    Lead("flute", 3, 0.0, 0.07, True, -0.15),
    Lead("mallets", 6, 5.5, 0.002, False, 0.25),
)
# Tempo of track 1, 2, 3, 4 of a mood, as a share of the mood's tempo: at least 6 % apart,
# so the mood's place on the circle still sets the pace.
TEMPO_SHARES = (1.0, 1.14, 0.88, 1.07)
# Length each aims at (seconds, tail included): a short, a long and two middle ones.
LENGTHS_S = (36.0, 54.0, 44.0, 31.0)
# Each next track of a mood starts a fourth above the last: four different keys.
KEY_STEP = 5


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
    lead: Lead = MOOD_LEAD  # the melody's instrument
    tonic: int | None = None  # 0 = C .. 11 = B; None: the seed picks
    length_s: float | None = None  # what the length aims at; None: the seed picks 30-60 s

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


def track_params(mood_name: str, number: int, first_tonic: int) -> MusicParams:
    """The mood's parameters for its default track ``number`` (1, 2, ...): the tracks of a
    mood differ in tempo, key, lead instrument and length (docs/music.md, "How a track
    is made"), while mode, register, loudness, density, articulation, roughness and
    space stay the mood's. ``first_tonic`` is track 1's key, from the library seed."""
    base = params_for(mood_name)
    i = (number - 1) % len(LEADS)
    return replace(
        base,
        tempo_bpm=round(base.tempo_bpm * TEMPO_SHARES[i], 1),
        lead=LEADS[i],
        tonic=(first_tonic + KEY_STEP * (number - 1)) % 12,
        length_s=LENGTHS_S[i],
    )
