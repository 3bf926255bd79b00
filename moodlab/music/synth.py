"""Render a short piece of music for a mood, with numpy only.

A piece is a chord progression in the mood's mode, a melody built from a two-bar
motif over it, a bass line, and (for all but the calmest moods) drums whose
pattern follows arousal; calm moods get their pulse from a broken-chord
arpeggio. Instruments are additive synthesis (harmonics whose fall-off sets the
brightness) with ADSR envelopes. The mix gets a synthetic room, soft
distortion for tense moods, a peak limiter and loudness normalisation.

The same parameters and seed always give the same samples: every random choice
comes from one numpy Generator seeded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from moodlab.music.audio import loudness_lufs
from moodlab.music.params import MusicParams

SAMPLE_RATE = 44_100
# The limiter keeps sample peaks here; AAC encoding may add a few tenths of a dB.
PEAK_CEILING_DBFS = -1.5
# Seconds the last chord rings after the last bar.
TAIL_S = 3.0
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# Melody rhythms per bar (durations in beats, summing to 4), by density.
RHYTHMS = (
    ((4,), (2, 2), (3, 1)),
    ((2, 1, 1), (1, 1, 2), (1.5, 0.5, 2), (2, 2)),
    ((1, 0.5, 0.5, 1, 1), (0.5, 0.5, 1, 0.5, 0.5, 1), (1, 1, 0.5, 0.5, 1), (1.5, 0.5, 1, 1)),
    (
        (0.5,) * 8,
        (0.5, 0.5, 1, 0.5, 0.5, 1),
        (0.25, 0.25, 0.5, 0.5, 0.5, 1, 1),
        (0.5,) * 4 + (1, 1),
    ),
)
# Drum hits per bar on a 16-step grid, by density: (kick, snare, hi-hat) steps.
DRUMS = (
    ((), (), ()),
    ((0, 10), (), (4, 12)),
    ((0, 8), (4, 12), tuple(range(0, 16, 2))),
    ((0, 7, 8, 10), (4, 12), tuple(range(16))),
)


@dataclass(frozen=True)
class Piece:
    samples: np.ndarray  # float32, (frames, 2), at SAMPLE_RATE
    key: str  # e.g. "A minor"
    bars: int
    tempo_bpm: float

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def render(params: MusicParams, *, seed: int, seconds: float | None = None) -> Piece:
    """A finished, normalised piece: ``seconds`` long (tests), else as long as
    ``params.length_s`` aims at (whole bars), else 30-60 s as the seed picks."""
    rng = np.random.default_rng(seed)
    drawn = int(rng.integers(0, 12))
    tonic = drawn if params.tonic is None else params.tonic
    beat = 60.0 / params.tempo_bpm
    bars = _bar_count(4 * beat, seconds if seconds is not None else params.length_s, rng)
    progression = params.progressions[int(rng.integers(len(params.progressions)))]
    chords = [progression[i % len(progression)] for i in range(bars)]
    chords[-1] = 0  # end on the tonic
    mix = _Mix(bars * 4 * beat + TAIL_S)
    scale = MAJOR_SCALE if params.mode == "major" else MINOR_SCALE
    _harmony(mix, params, chords, scale, tonic, beat)
    _bass(mix, params, chords, scale, tonic, beat)
    _melody(mix, params, chords, scale, tonic, beat, rng)
    _drums(mix, params, bars, beat, rng)
    samples = _master(mix, params)
    tone.cache_clear()  # the notes of one piece need not outlive it
    key = (
        f"{('C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B')[tonic]} {params.mode}"
    )
    return Piece(samples=samples, key=key, bars=bars, tempo_bpm=params.tempo_bpm)


def _bar_count(bar_s: float, seconds: float | None, rng: np.random.Generator) -> int:
    if seconds is not None:
        return max(2, round((seconds - TAIL_S) / bar_s))  # whole bars, the nearest
    # Whole four-bar phrases that, with the tail, last 30 to 60 seconds.
    fits = [n for n in range(4, 200, 4) if 32 <= n * bar_s + TAIL_S <= 58]
    if not fits:
        fits = [max(2, round(45 / bar_s))]
    return int(rng.choice(fits))


class _Mix:
    """A stereo buffer that notes are added into, at a time and a pan position."""

    def __init__(self, seconds: float):
        self.frames = int(seconds * SAMPLE_RATE)
        self.dry = np.zeros((self.frames, 2))
        self.harmonic = np.zeros((self.frames, 2))  # the part distortion applies to

    def add(
        self,
        sound: np.ndarray,
        at_s: float,
        *,
        pan: float = 0.0,
        gain: float = 1.0,
        harmonic: bool = True,
    ) -> None:
        start = int(at_s * SAMPLE_RATE)
        end = min(self.frames, start + len(sound))
        if end <= start:
            return
        angle = (pan + 1) * np.pi / 4  # constant-power pan
        target = self.harmonic if harmonic else self.dry
        part = sound[: end - start] * gain
        target[start:end, 0] += part * np.cos(angle)
        target[start:end, 1] += part * np.sin(angle)


@lru_cache(maxsize=256)  # chords and drums repeat: each distinct note is made once
def tone(
    note: float,
    gate_s: float,
    *,
    brightness: float,
    attack_s: float = 0.01,
    release_s: float = 0.15,
    pluck: float = 0.0,
    vibrato: float = 0.0,
    harmonics: int = 10,
) -> np.ndarray:
    """An additive-synthesis note: harmonics with a brightness tilt, ADSR-shaped.

    ``pluck`` > 0 makes it decay like a struck string (higher harmonics faster).
    """
    frequency = midi_hz(note)
    n = int((gate_s + release_s) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    phase = 2 * np.pi * frequency * t
    if vibrato:  # +-0.3 % in pitch at 5.5 Hz, fading in over 0.4 s
        depth = vibrato * frequency * 0.003
        phase += 2 * np.pi * depth / 5.5 * np.sin(2 * np.pi * 5.5 * t) * np.minimum(1, t / 0.4)
    # Wrapped to one turn, float32 keeps each harmonic's phase exact enough and is
    # twice as fast to take the sine of.
    phase = np.mod(phase, 2 * np.pi).astype(np.float32)
    t32 = t.astype(np.float32)
    tilt = 2.6 - 1.8 * brightness
    wave = np.zeros(n, dtype=np.float32)
    for k in range(1, harmonics + 1):
        if k * frequency > 0.45 * SAMPLE_RATE:
            break
        partial = np.sin(np.float32(k) * phase) * np.float32(1 / k**tilt)
        if pluck:
            partial *= np.exp(t32 * np.float32(-pluck * (1 + 0.5 * (k - 1))))
        wave += partial
    wave = (wave * _envelope(n, gate_s, attack_s, release_s)).astype(np.float32)
    wave.flags.writeable = False  # shared through the cache
    return wave


def _envelope(n: int, gate_s: float, attack_s: float, release_s: float) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    rise = np.minimum(1.0, t / max(attack_s, 1e-3))
    sustain = 0.8 + 0.2 * np.exp(-t / 0.25)  # a short decay to the sustain level
    fall = np.where(t <= gate_s, 1.0, np.exp(-(t - gate_s) / max(release_s / 4, 1e-3)))
    fade = np.minimum(1.0, (n - np.arange(n)) / (0.005 * SAMPLE_RATE))  # no click at the end
    return rise * sustain * fall * fade


def _chord_notes(degree: int, scale, tonic: int, sevenths: bool, raise_leading: bool):
    """MIDI notes of the chord on ``degree``, voiced between G3 and G4."""
    steps = (0, 2, 4, 6) if sevenths else (0, 2, 4)
    notes = []
    for step in steps:
        index = degree + step
        note = 48 + tonic + scale[index % 7] + 12 * (index // 7)
        if raise_leading and index % 7 == 6:
            note += 1  # harmonic minor: V is major, with a leading tone
        notes.append(55 + (note - 55) % 12)
    return sorted(notes)


def _harmony(mix: _Mix, p: MusicParams, chords, scale, tonic: int, beat: float) -> None:
    bar = 4 * beat
    for i, degree in enumerate(chords):
        last = i == len(chords) - 1
        raise_leading = p.mode == "minor" and degree == 4
        notes = _chord_notes(degree, scale, tonic, p.sevenths, raise_leading)
        start = i * bar
        if p.density <= 1 or last:  # a pad: slow attack, held through the bar
            ring = TAIL_S if last else 0.0
            for j, note in enumerate(notes):
                pad = tone(
                    note,
                    bar + ring * 0.5,
                    brightness=p.brightness * 0.6,
                    attack_s=min(0.4, bar / 4),
                    release_s=0.6 + ring,
                    harmonics=6,
                )
                mix.add(pad, start, pan=(-0.35, 0.35)[j % 2], gain=0.16 / len(notes) * 2)
        if p.density <= 1 and not last:  # and a broken chord for pulse
            step = beat / 2 if p.density == 0 else beat / 2
            pattern = (notes + [notes[0] + 12])[:4]
            sequence = pattern + pattern[::-1][1:3] if len(pattern) == 4 else pattern
            for k in range(int(round(bar / step))):
                note = sequence[k % len(sequence)] + 12
                pluck = tone(
                    note,
                    step * p.articulation,
                    brightness=p.brightness,
                    release_s=0.5,
                    pluck=3.0,
                    harmonics=8,
                )
                mix.add(pluck, start + k * step, pan=0.25, gain=0.10)
        elif not last:  # struck chords: on the beats, or offbeat stabs when driving
            hits = (0, 1.5, 2, 3.5) if p.density == 2 else (0, 0.5, 1.5, 2, 2.5, 3.5)
            for hit in hits:
                length = beat * (0.9 if p.density == 2 else 0.4) * p.articulation
                for j, note in enumerate(notes):
                    sound = tone(
                        note,
                        length,
                        brightness=p.brightness,
                        attack_s=0.005,
                        release_s=0.12,
                        pluck=4.0 - 2 * p.brightness,
                    )
                    mix.add(
                        sound,
                        start + hit * beat,
                        pan=(-0.3, 0.3)[j % 2],
                        gain=0.20 / len(notes) * 2,
                    )


def _bass(mix: _Mix, p: MusicParams, chords, scale, tonic: int, beat: float) -> None:
    bar = 4 * beat
    pattern = {0: (0,), 1: (0, 2), 2: (0, 2, 2.5), 3: (0, 0.5, 1.5, 2, 2.5, 3, 3.5)}[p.density]
    for i, degree in enumerate(chords):
        root = 36 + (tonic + scale[degree % 7]) % 12
        last = i == len(chords) - 1
        for j, at in enumerate((0,) if last else pattern):
            gap = (pattern[j + 1] if j + 1 < len(pattern) else 4) - at
            length = bar + TAIL_S * 0.6 if last else gap * beat * p.articulation
            note = root + (12 if p.density == 3 and j % 2 else 0)  # octave jumps when driving
            sound = tone(
                note,
                length,
                brightness=0.25 + 0.3 * p.brightness,
                attack_s=0.01,
                release_s=0.2,
                harmonics=5,
            )
            mix.add(sound, i * bar + at * beat, gain=0.34)


def _melody(mix: _Mix, p: MusicParams, chords, scale, tonic: int, beat: float, rng) -> None:
    """A two-bar motif, repeated and varied over the chords, ending on the tonic."""
    bars = len(chords)
    intro = 2 if bars >= 8 else 0
    base = p.melody_base + (tonic - p.melody_base) % 12 - 12  # the tonic at or below the base
    if base < p.melody_base - 7:
        base += 12
    pools = RHYTHMS[p.density]
    motif_a = [pools[int(rng.integers(len(pools)))] for _ in range(2)]
    motif_b = [pools[int(rng.integers(len(pools)))] for _ in range(2)]
    contour = rng.choice([-2, -1, -1, 1, 1, 2], size=16)
    position = int(rng.choice([2, 4, 7]))  # scale index above the melody's tonic
    for phrase_start in range(intro, bars, 2):
        phrase = (phrase_start - intro) // 2
        rhythm = motif_b if phrase % 4 == 2 else motif_a
        for offset, durations in enumerate(rhythm):
            i = phrase_start + offset
            if i >= bars:
                break
            final_bar = i == bars - 1
            chord_tones = {(chords[i] + s) % 7 for s in (0, 2, 4)}
            at = 0.0
            for n, duration in enumerate((4,) if final_bar else durations):
                if final_bar:
                    position = 7 * round(position / 7)  # the tonic, nearest octave
                elif n > 0 or offset > 0:
                    position += int(contour[(n + 4 * offset) % len(contour)])
                if not final_bar and float(at).is_integer() and at % 2 == 0:
                    position = _nearest(position, chord_tones)
                position = min(max(position, 0), 11)
                note = base + scale[position % 7] + 12 * (position // 7)
                gate = duration * beat * p.articulation + (TAIL_S * 0.5 if final_bar else 0)
                lead = p.lead
                sound = tone(
                    note,
                    gate,
                    brightness=min(1.0, max(0.05, p.brightness + lead.brightness)),
                    attack_s=0.02 + 0.05 * (1 - p.brightness)
                    if lead.attack_s is None
                    else lead.attack_s,
                    release_s=0.25,
                    vibrato=lead.vibrato and duration >= 1,
                    pluck=(0.0 if p.density <= 1 else 1.5) if lead.pluck is None else lead.pluck,
                    harmonics=lead.harmonics,
                )
                mix.add(sound, (i * 4 + at) * beat, gain=0.30)
                at += duration


def _nearest(position: int, chord_tones: set[int]) -> int:
    for distance in (0, 1, -1, 2, -2):
        if (position + distance) % 7 in chord_tones:
            return position + distance
    return position


def _drums(mix: _Mix, p: MusicParams, bars: int, beat: float, rng) -> None:
    kicks, snares, hats = DRUMS[p.density]
    if not (kicks or snares or hats):
        return
    kick, snare, hat = _kick(), _snare(rng), _hat(rng)
    step = beat / 4
    soft = 0.6 if p.density == 1 else 1.0
    for i in range(bars - 1):  # the last bar is the ringing final chord
        start = i * 4 * beat
        for s in kicks:
            mix.add(kick, start + s * step, gain=0.55 * soft, harmonic=False)
        for s in snares:
            mix.add(snare, start + s * step, pan=0.05, gain=0.32, harmonic=False)
        for s in hats:
            accent = 1.0 if s % 4 == 0 else 0.6 + 0.2 * float(rng.random())
            mix.add(hat, start + s * step, pan=0.35, gain=0.10 * accent * soft, harmonic=False)


def _kick() -> np.ndarray:
    t = np.arange(int(0.35 * SAMPLE_RATE)) / SAMPLE_RATE
    frequency = 45 + 75 * np.exp(-t * 30)
    phase = 2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE
    return np.sin(phase) * np.exp(-t * 9) * np.minimum(1, t / 0.002)


def _snare(rng) -> np.ndarray:
    t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.diff(rng.standard_normal(len(t) + 1)) * 0.5
    body = 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 25)
    return (noise * np.exp(-t * 18) + body) * np.minimum(1, t / 0.001)


def _hat(rng) -> np.ndarray:
    t = np.arange(int(0.08 * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.diff(rng.standard_normal(len(t) + 2), n=2) * 0.3
    return noise * np.exp(-t * 60)


def _room(reverb: float) -> np.ndarray:
    """A stereo impulse response: decaying noise, different in each ear for width."""
    rng = np.random.default_rng(7)  # the room is part of the sound, not of the seed
    length = int(1.5 * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    decay = np.exp(-t * 6.9 / 1.5)  # -60 dB after 1.5 s
    response = rng.standard_normal((length, 2)).astype(np.float32) * decay[:, None]
    response /= np.sqrt((response**2).sum(axis=0))
    return response * reverb


def _master(mix: _Mix, p: MusicParams) -> np.ndarray:
    from scipy import signal  # imported on use: scipy takes 0.7 s to import

    harmonic = mix.harmonic
    if p.roughness:
        drive = 1 + 6 * p.roughness
        harmonic = np.tanh(harmonic * drive) / np.tanh(drive)
    dry = harmonic + mix.dry
    dry = dry.astype(np.float32)
    wet = signal.fftconvolve(dry, _room(p.reverb), axes=0)[: len(dry)]
    out = dry + wet
    for _ in range(2):  # limiting lowers loudness a little: measure and correct again
        out *= 10 ** ((p.loudness_lufs - loudness_lufs(out, SAMPLE_RATE)) / 20)
        out = _limit(out)
    return out.astype(np.float32)


def _limit(x: np.ndarray) -> np.ndarray:
    """A peak limiter: gain dips smoothly around any sample above the ceiling."""
    from scipy import ndimage  # imported on use: scipy takes 0.7 s to import

    ceiling = 10 ** (PEAK_CEILING_DBFS / 20)
    width = int(0.005 * SAMPLE_RATE)
    needed = np.minimum(1.0, ceiling / np.maximum(np.abs(x).max(axis=1), 1e-12))
    held = ndimage.minimum_filter1d(needed, size=2 * width + 1)
    gain = ndimage.uniform_filter1d(held, size=width + 1)
    return np.clip(x * gain[:, None], -ceiling, ceiling)
