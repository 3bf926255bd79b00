"""Generated music: deterministic, and measurably the mood it was made for.

Measured on the decoded MP3, as a listener (or the video muxer) would get it.
"""

from __future__ import annotations

import hashlib
import re
import subprocess

import numpy as np
import pytest
from scipy import signal

from moodlab.core import moods
from moodlab.music import audio, synth
from moodlab.music.params import params_for

HIGH_AROUSAL, LOW_AROUSAL = ("Dynamic", "Angry"), ("Tired", "Depressed")
PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def decoded(mood: str, tmp_path, *, seed: int = 11, seconds: float = 10.0, channels: int = 1):
    piece = synth.render(params_for(mood), seed=seed, seconds=seconds)
    path = tmp_path / f"{mood}-{seed}.mp3"
    audio.encode_mp3(piece.samples, synth.SAMPLE_RATE, path)
    rate = synth.SAMPLE_RATE if channels == 2 else audio.ANALYSIS_RATE
    return piece, audio.decode(path, rate=rate, channels=channels)


def onset_rate(mono: np.ndarray, rate: int) -> float:
    """Note onsets per second: peaks of moodlab's onset envelope of at least a fifth of
    its strong ones (99th centile), 50 ms apart or more."""
    envelope, fps = audio.onset_envelope(mono, rate)
    threshold = np.percentile(envelope, 99) / 5
    peaks, _ = signal.find_peaks(envelope, height=threshold, distance=max(1, int(fps * 0.05)))
    return len(peaks) / (len(mono) / rate)


def chroma(mono: np.ndarray, rate: int) -> np.ndarray:
    """Energy per pitch class (C first), from 55 Hz to 2 kHz, over the whole track."""
    energy = np.abs(np.fft.rfft(mono)) ** 2
    frequencies = np.fft.rfftfreq(len(mono), 1 / rate)
    keep = (frequencies >= 55) & (frequencies <= 2000)
    classes = (np.round(12 * np.log2(frequencies[keep] / 440.0)).astype(int) + 9) % 12  # A: 9
    return np.bincount(classes, weights=energy[keep], minlength=12)


def test_the_same_seed_gives_the_same_samples_and_bytes(tmp_path):
    params = params_for("Happy")
    first = synth.render(params, seed=3, seconds=6)
    again = synth.render(params, seed=3, seconds=6)
    other = synth.render(params, seed=4, seconds=6)
    digest = hashlib.sha256
    assert digest(first.samples.tobytes()).digest() == digest(again.samples.tobytes()).digest()
    assert digest(first.samples.tobytes()).digest() != digest(other.samples.tobytes()).digest()
    audio.encode_mp3(first.samples, synth.SAMPLE_RATE, tmp_path / "a.mp3")
    audio.encode_mp3(again.samples, synth.SAMPLE_RATE, tmp_path / "b.mp3")
    assert (tmp_path / "a.mp3").read_bytes() == (tmp_path / "b.mp3").read_bytes()


def test_parameters_follow_valence_and_arousal():
    for mood in moods.all_moods():
        p = params_for(mood.name)
        assert p.tempo_bpm == pytest.approx(95 + 45 * mood.arousal, abs=0.05)
        assert p.mode == ("major" if mood.valence >= 0 else "minor")
    assert params_for("Angry").roughness > 0 == params_for("Happy").roughness
    assert params_for("Dynamic").density > params_for("Peaceful").density
    assert params_for("Happy").melody_base > params_for("Depressed").melody_base


def test_high_arousal_moods_have_more_onsets_than_low_arousal_ones(tmp_path):
    rate = {}
    for mood in HIGH_AROUSAL + LOW_AROUSAL:
        _, sound = decoded(mood, tmp_path)
        rate[mood] = onset_rate(sound.mono, sound.rate)
    assert min(rate[m] for m in HIGH_AROUSAL) > 2 * max(rate[m] for m in LOW_AROUSAL), rate


def test_positive_valence_moods_sound_major_negative_ones_minor(tmp_path):
    """Energy on the major third over the minor third above the tonic."""
    ratio = {}
    for mood in moods.names():
        piece, sound = decoded(mood, tmp_path, seconds=8)
        tonic = PITCH_CLASSES.index(piece.key.split()[0])
        energy = chroma(sound.mono, sound.rate)
        ratio[mood] = energy[(tonic + 4) % 12] / energy[(tonic + 3) % 12]
    positive = [ratio[m.name] for m in moods.all_moods() if m.valence > 0]
    negative = [ratio[m.name] for m in moods.all_moods() if m.valence < 0]
    assert min(positive) > max(negative), ratio


@pytest.mark.parametrize("mood", ["Angry", "Peaceful"])
def test_no_clipping_and_loudness_on_target(mood, tmp_path):
    piece, sound = decoded(mood, tmp_path, seconds=12, channels=2)
    target = params_for(mood).loudness_lufs
    assert 20 * np.log10(np.abs(sound.samples).max()) < -1.0  # peak, dBFS
    assert audio.loudness_lufs(sound.samples, sound.rate) == pytest.approx(target, abs=1.0)
    # And by ffmpeg's own EBU R128 meter, independently of moodlab's measurement.
    done = subprocess.run(
        [
            audio.ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-i",
            str(tmp_path / f"{mood}-11.mp3"),
            "-af",
            "ebur128",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    integrated = float(re.findall(r"I:\s+(-?[\d.]+) LUFS", done.stderr)[-1])
    assert integrated == pytest.approx(target, abs=1.0)


def test_a_full_piece_lasts_30_to_60_seconds_and_ends_quietly():
    piece = synth.render(params_for("Tired"), seed=5)
    assert 30 <= piece.duration_s <= 60
    tail = piece.samples[-synth.SAMPLE_RATE // 10 :]
    assert np.abs(tail).max() < 0.05


def test_the_default_tracks_of_a_mood_differ_in_tempo_key_lead_and_length(settings):
    from itertools import combinations

    from moodlab.music.default_tracks import default_tracks

    for mood in moods.names():
        specs = [s for s in default_tracks(settings, seed=0) if s.mood == mood]
        params = [s.params for s in specs]
        assert len(params) == 4
        for a, b in combinations(params, 2):
            assert abs(a.tempo_bpm - b.tempo_bpm) >= 0.05 * min(a.tempo_bpm, b.tempo_bpm), mood
        assert len({p.tonic for p in params}) == 4, mood
        assert len({p.lead.name for p in params}) == 4, mood
        assert len({p.length_s for p in params}) == 4, mood
        # What makes it the mood stays the mood's.
        base = params_for(mood)
        assert {(p.mode, p.density, p.loudness_lufs, p.melody_base) for p in params} == {
            (base.mode, base.density, base.loudness_lufs, base.melody_base)
        }


def test_two_tracks_of_one_mood_sound_different(settings):
    """Rendered: Tired 1 and Tired 3 (the slowest mood, where all were 41 s and 50 BPM)."""
    from moodlab.music.default_tracks import default_tracks

    one, three = [s for s in default_tracks(settings, seed=0) if s.mood == "Tired"][0:3:2]
    first = synth.render(one.params, seed=one.seed)
    other = synth.render(three.params, seed=three.seed)
    assert first.key != other.key and first.tempo_bpm != other.tempo_bpm
    assert abs(first.duration_s - other.duration_s) >= 4
    assert (
        30
        <= min(first.duration_s, other.duration_s)
        <= max(first.duration_s, other.duration_s)
        <= 60
    )
