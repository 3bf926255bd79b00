"""Real video and audio files made by the tests with ffmpeg's lavfi sources."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from moodlab.core import moods
from moodlab.core.models import Track, TrainedModel
from moodlab.video.probe import ffmpeg_exe

# Three shots that ffmpeg's scene score tells apart (hard cuts between them).
SHOTS = ("testsrc2", "color=c=0xd03020", "smptebars")


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True, timeout=120)


def clip(
    path: Path,
    shots: list[tuple[str, float]],
    *,
    size: str = "160x90",
    rate: int = 25,
    audio: bool = True,
    codec: str = "libx264",
) -> Path:
    """A video of the given (lavfi source, seconds) shots, cut hard one to the next."""
    inputs: list[str] = []
    for source, seconds in shots:
        joint = ":" if "=" in source else "="
        inputs += ["-f", "lavfi", "-i", f"{source}{joint}s={size}:r={rate}:d={seconds}"]
    if audio:
        total = sum(seconds for _, seconds in shots)
        inputs += ["-f", "lavfi", "-i", f"sine=f=300:d={total}"]
    labels = "".join(f"[{i}:v]" for i in range(len(shots)))
    args = [*inputs, "-filter_complex", f"{labels}concat=n={len(shots)}:v=1:a=0[v]", "-map", "[v]"]
    if audio:
        args += ["-map", f"{len(shots)}:a", "-c:a", "aac"]
    ffmpeg(*args, "-c:v", codec, "-pix_fmt", "yuv420p", str(path))
    return path


def tone(path: Path, seconds: float = 5.0, hz: float = 440.0) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=f={hz}:d={seconds}", "-c:a", "aac", str(path))
    return path


def audio_seconds(path: Path) -> float:
    """How long the first audio stream plays, counted in decoded samples."""
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-ar",
            "48000",
            "-f",
            "s16le",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return len(raw) / 2 / 48000


def frame_at(path: Path, seconds: float, width: int, height: int) -> np.ndarray:
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-ss",
            str(seconds),
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def register_tiny_model(database, settings, *, active: bool = True) -> int:
    """A real (untrained) Keras model at 32x32, saved and registered like a trained one."""
    import keras

    from moodlab.training import architectures
    from moodlab.training.runs import compiled

    keras.utils.set_random_seed(0)
    model = compiled(architectures.plain(32))
    folder = settings.data_dir / "models"
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "tiny.keras")
    with database.session() as session:
        entry = TrainedModel(
            arch="plain",
            path="models/tiny.keras",
            image_size=32,
            active=active,
            params=int(model.count_params()),
            cv_scores={},
            report={},
        )
        session.add(entry)
        session.flush()
        return entry.id


def add_track(database, settings, mood: str, status: str, *, hz: float = 440.0) -> int:
    settings.music_dir.mkdir(parents=True, exist_ok=True)
    with database.session() as session:
        track = Track(path="", mood=mood, status=status, duration_s=5.0)
        session.add(track)
        session.flush()
        track.path = f"{mood.lower()}-{track.id}.m4a"
        tone(settings.music_dir / track.path, hz=hz)
        return track.id


def tracks_for_every_mood(database, settings, status: str = "accepted") -> dict[str, int]:
    return {
        mood: add_track(database, settings, mood, status, hz=220 + 40 * i)
        for i, mood in enumerate(moods.names())
    }
