"""How different the default library's tracks of one mood are from one another.

    .venv/bin/python benchmarks/music_variety.py [--per-mood 4] [--seed 0]

Renders the default library (moodlab.music.default_tracks, the same code as `moodlab
music generate`) into a temporary music dir, with an empty cache, then decodes each MP3
and measures what a listener hears: its length, its loudness (BS.1770), its tempo
(moodlab.music.audio.estimate_tempo, the estimate added tracks get: it can be off by an
octave) and its spectral centroid (the brightness of its timbre). The key and lead
instrument are the ones the track was made with. docs/music.md quotes the table.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moodlab.core.config import Settings  # noqa: E402
from moodlab.music import audio  # noqa: E402
from moodlab.music.default_tracks import default_tracks, render_default_track  # noqa: E402


def centroid_hz(mono: np.ndarray, rate: int) -> float:
    """The spectral centroid over the whole track: where the energy of its timbre sits."""
    frames = mono[: len(mono) // 2048 * 2048].reshape(-1, 2048) * np.hanning(2048)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)
    freqs = np.fft.rfftfreq(2048, 1 / rate)
    return float((freqs * power).sum() / power.sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-mood", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None, help="the library seed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MOODLAB_MUSIC_DIR"] = str(Path(folder) / "music")
        os.environ["MOODLAB_CACHE_DIR"] = str(Path(folder) / "cache")
        os.environ["MOODLAB_MUSIC_TRACKS_PER_MOOD"] = str(args.per_mood)
        settings = Settings.from_env()
        rows = []
        started = time.perf_counter()
        for spec in default_tracks(settings, args.seed):
            made = render_default_track(spec, settings)
            decoded = audio.decode(settings.music_dir / spec.path, rate=22_050)
            mono = decoded.mono
            rows.append(
                {
                    "track": spec.title,
                    "mood": spec.mood,
                    "tempo": made.tempo_bpm,
                    "heard_tempo": audio.estimate_tempo(mono, decoded.rate),
                    "key": made.key,
                    "lead": spec.params.lead.name,
                    "length": decoded.duration_s,
                    "lufs": audio.loudness_lufs(decoded.samples, decoded.rate),
                    "centroid": centroid_hz(mono, decoded.rate),
                }
            )
        took = time.perf_counter() - started
    print("| track | tempo (made; heard) | key | lead | length | loudness | centroid |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['track']} | {r['tempo']:.0f}; {r['heard_tempo'] or 0:.0f} BPM | {r['key']}"
            f" | {r['lead']} | {r['length']:.1f} s | {r['lufs']:.1f} LUFS"
            f" | {r['centroid']:.0f} Hz |"
        )
    print()
    for mood, group in itertools.groupby(rows, key=lambda r: r["mood"]):
        tracks = list(group)
        pairs = list(itertools.combinations(tracks, 2))
        print(
            f"{mood}: tempos at least {min(abs(a['tempo'] - b['tempo']) for a, b in pairs):.1f}"
            f" BPM apart, {len({t['key'] for t in tracks})} keys,"
            f" {len({t['lead'] for t in tracks})} leads, lengths at least"
            f" {min(abs(a['length'] - b['length']) for a, b in pairs):.1f} s apart,"
            f" centroids {min(t['centroid'] for t in tracks):.0f}-"
            f"{max(t['centroid'] for t in tracks):.0f} Hz"
        )
    print(f"\n{len(rows)} tracks rendered and measured in {took:.0f} s")


if __name__ == "__main__":
    main()
