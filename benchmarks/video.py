"""`moodlab video make` against a naive moviepy pipeline, both as whole commands, in one run.

    .venv/bin/python benchmarks/video.py [--seconds 60] [--long 600] [--skip-naive]

The clip is 1280x720, 30 fps H.264 with AAC sound (ffmpeg's testsrc2, made here);
the long one is the same clip repeated (ffmpeg's concat demuxer, no re-encode).
The model is the paper's Table 2 CNN at 128x128 (untrained: speed does not depend
on the weights), registered and active; each mood has an accepted 30 s track.

- moodlab: `python -m moodlab video make CLIP --out OUT.mp4 --json` (2 frames a
  second through ffmpeg's fps and crop filters, batches of 64, video stream copied);
- naive: a script a newcomer would write with moviepy 2: every frame at full
  resolution, PIL resize to 128x128, `model.predict` per frame, the track looped
  with moviepy, `write_videofile(codec="libx264", audio_codec="aac")`.

Both are timed from process start to exit (imports and model loading included, as a
user waits for them); peak RSS comes from /usr/bin/time -v. The naive side runs on
the short clip only (on the long one it would take about ten times as long).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAIVE = """
import sys
import keras
import numpy as np
from moviepy import AudioFileClip, VideoFileClip, afx
from PIL import Image

source, model_path, track, out = sys.argv[1:5]
model = keras.models.load_model(model_path)
clip = VideoFileClip(source)
probs = []
for frame in clip.iter_frames():
    small = Image.fromarray(frame).resize((128, 128))
    probs.append(model.predict(np.asarray(small, np.float32)[None] / 255.0, verbose=0)[0])
mood = int(np.mean(probs, axis=0).argmax())
music = AudioFileClip(track).with_effects([afx.AudioLoop(duration=clip.duration)])
clip.with_audio(music).write_videofile(out, codec="libx264", audio_codec="aac", logger=None)
music.close()
clip.close()
print(mood)
"""


def ffmpeg(*args: str) -> None:
    from moodlab.video.probe import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def make_clips(folder: Path, seconds: int, long: int) -> tuple[Path, Path]:
    short = folder / f"clip{seconds}.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=30:d={seconds}",
           "-f", "lavfi", "-i", f"sine=f=330:d={seconds}", "-c:v", "libx264",
           "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(short))  # fmt: skip
    listing = folder / "list.txt"
    listing.write_text(f"file '{short}'\n" * (long // seconds))
    longer = folder / f"clip{long}.mp4"
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(longer))
    return short, longer


def set_up_lab(folder: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "MOODLAB_DATABASE_URL": f"sqlite:///{folder / 'lab.sqlite'}",
        "MOODLAB_DATA_DIR": str(folder / "data"),
        "MOODLAB_MUSIC_DIR": str(folder / "music"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    script = """
import subprocess
from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.migrations import upgrade
from moodlab.core.models import TrainedModel, Track
from moodlab.training import architectures
from moodlab.training.runs import compiled
from moodlab.video.probe import ffmpeg_exe

settings = Settings.from_env()
database = Database(settings.database_url)
upgrade(database)
(settings.data_dir / "models").mkdir(parents=True)
compiled(architectures.deep(128)).save(settings.data_dir / "models" / "deep.keras")
settings.music_dir.mkdir(parents=True)
with database.session() as session:
    session.add(TrainedModel(arch="deep", path="models/deep.keras", image_size=128, active=True,
                             cv_scores={}, report={}))
    for i, mood in enumerate(moods.names()):
        name = f"{mood.lower()}.m4a"
        tone = f"sine=f={220 + 40 * i}:d=30"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", tone, "-c:a", "aac",
                        str(settings.music_dir / name)], check=True)
        session.add(Track(path=name, mood=mood, status="accepted", duration_s=30.0))
"""
    subprocess.run([sys.executable, "-c", script], env=env, check=True, cwd=ROOT)
    return env


def timed(command: list[str], env: dict[str, str]) -> dict:
    """Wall seconds from process start to exit, and peak RSS (MB) from /usr/bin/time -v."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], env=env, cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[:4]} failed:\n{result.stderr[-2000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(rss_kb / 1024, 1),
            "stdout": result.stdout}  # fmt: skip


def moodlab_run(clip: Path, out: Path, env) -> dict:
    run = timed([sys.executable, "-m", "moodlab", "video", "make", str(clip), "--out", str(out),
                 "--json"], env)  # fmt: skip
    report = json.loads(run.pop("stdout"))
    run["samples"] = len(report["timeline"])
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--long", type=int, default=600)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moodlab-bench-video-") as tmp:
        folder = Path(tmp)
        short, longer = make_clips(folder, args.seconds, args.long)
        env = set_up_lab(folder)
        results = {"clip": f"{args.seconds} s 1280x720 30 fps H.264 + AAC"}
        results["moodlab"] = moodlab_run(short, folder / "out-short.mp4", env)
        print(f"moodlab, {args.seconds} s: {results['moodlab']}", flush=True)
        results["moodlab_long"] = moodlab_run(longer, folder / "out-long.mp4", env)
        print(f"moodlab, {args.long} s: {results['moodlab_long']}", flush=True)
        if not args.skip_naive:
            script = folder / "naive.py"
            script.write_text(NAIVE)
            track = folder / "music" / "happy.m4a"
            model = folder / "data" / "models" / "deep.keras"
            naive = timed([sys.executable, str(script), str(short), str(model), str(track),
                           str(folder / "naive.mp4")], env)  # fmt: skip
            naive.pop("stdout")
            results["naive"] = naive
            results["speedup"] = round(naive["seconds"] / results["moodlab"]["seconds"], 1)
            print(f"naive, {args.seconds} s: {naive}", flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
