"""`moodlab video make` and a warm worker's video job against a naive moviepy pipeline, in one run.

    .venv/bin/python benchmarks/video.py [--seconds 60] [--long 600] [--rounds 2] [--skip-naive]

The clip is 1280x720, 30 fps H.264 with AAC sound (ffmpeg's testsrc2, made here);
the long one is the same clip repeated (ffmpeg's concat demuxer, no re-encode).
The model is the paper's Table 2 CNN at 128x128 (untrained: speed does not depend
on the weights), registered and active; each mood has an accepted 30 s track.

- moodlab: `python -m moodlab video make CLIP --out OUT.mp4 --json` (2 frames a
  second through ffmpeg's fps and crop filters, batches of 64, video stream copied);
- naive: a script a newcomer would write with moviepy 2: every frame at full
  resolution, PIL resize to 128x128, `model.predict` per frame, the track looped
  with moviepy, `write_videofile(codec="libx264", audio_codec="aac")`.

- warm worker: what the Video page waits for on a worker that has already made a
  video: a child process holds a ``JobWorker`` that ran one video job; each
  measurement enqueues a video job (the page's start service) and runs it with the
  worker's ``run_one`` until it is done (the worker's poll interval, 1 s at most
  by default, is not included: the page's own polling adds about as much).

The CLI and the naive script are timed from process start to exit (imports and
model loading included, as a user waits for them); peak RSS comes from
/usr/bin/time -v. The sides alternate, round by round (CLI, warm, naive, then
naive, warm, CLI), and the load average is printed before and after each
measurement: other work on the machine slows every side, the naive one most. The
cost of importing Keras and the CLI alone is measured in fresh processes. The naive
side runs on the short clip only (on the long one it would take about ten times as
long).
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


# A worker that stays up between jobs: reads a clip path per line, makes its video as
# a queued job, prints the seconds from enqueue to done as one JSON line.
WARM = """
import json, sys, time
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Job
from moodlab.jobs.worker import JobWorker
from moodlab.video.actions import start_video
from moodlab.video.request import VideoParams

settings = Settings.from_env()
database = Database(settings.database_url)
worker = JobWorker(settings, database)
for line in sys.stdin:
    clip, out = line.split()
    started = time.perf_counter()
    with database.session() as session:
        params = VideoParams(inputs=[clip], out=out)
        job_id = start_video(session=session, actor=Actor.command_line(), settings=settings,
                             params=params).id
    worker.run_one()
    seconds = time.perf_counter() - started
    with database.session() as session:
        job = session.get(Job, job_id)
        status, samples = job.status, len((job.result or {}).get("timeline", []))
    print(json.dumps({"seconds": round(seconds, 2), "status": str(status), "samples": samples}),
          flush=True)
"""

IMPORTS = """
import sys, time
started = time.perf_counter()
__import__(sys.argv[1])
print(round(time.perf_counter() - started, 2))
"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def ffmpeg(*args: str) -> None:
    from moodlab.video.probe import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def make_clips(folder: Path, seconds: int, long: int) -> tuple[Path, Path]:
    short = folder / f"clip{seconds}.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=30:d={seconds}",
           "-f", "lavfi", "-i", f"sine=f=330:d={seconds}", "-c:v", "libx264",
           "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(short))  # fmt: skip
    if long <= seconds:  # no long clip
        return short, short
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


class WarmWorker:
    """The child process holding a JobWorker, TensorFlow and the model between jobs."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen([sys.executable, "-c", WARM], env=env, cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)  # fmt: skip

    def job(self, clip: Path, out: Path) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{clip} {out}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the warm worker stopped")
        return json.loads(line)

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait()


def import_seconds(module: str, env) -> float:
    result = subprocess.run([sys.executable, "-c", IMPORTS, module], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--long", type=int, default=600, help="0: skip the long clip")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moodlab-bench-video-") as tmp:
        folder = Path(tmp)
        short, longer = make_clips(folder, args.seconds, args.long)
        env = set_up_lab(folder)
        results: dict = {"clip": f"{args.seconds} s 1280x720 30 fps H.264 + AAC",
                         "load_at_start": load(), "rounds": []}  # fmt: skip
        print(f"load average at the start: {load()}", flush=True)
        for module in ("keras", "moodlab.cli.main", "moodlab.video.service"):
            results[f"import {module}"] = import_seconds(module, env)
            print(f"import {module}: {results[f'import {module}']} s (load {load()})", flush=True)
        script = folder / "naive.py"
        script.write_text(NAIVE)
        track = folder / "music" / "happy.m4a"
        model = folder / "data" / "models" / "deep.keras"
        warm = WarmWorker(env)
        started = time.perf_counter()
        first = warm.job(short, folder / "warm-up.mp4")
        if first["status"] != "succeeded":
            raise SystemExit(f"the warm worker's first job failed: {first}")
        print(f"warm worker, first (cold) job: {first} after {time.perf_counter() - started:.1f} s")

        def cli() -> dict:
            return moodlab_run(short, folder / "out-short.mp4", env)

        def warm_job() -> dict:
            return warm.job(short, folder / "out-warm.mp4")

        def naive() -> dict:
            run = timed([sys.executable, str(script), str(short), str(model), str(track),
                         str(folder / "naive.mp4")], env)  # fmt: skip
            run.pop("stdout")
            return run

        sides = {"moodlab_cli": cli, "warm_worker": warm_job}
        if not args.skip_naive:
            sides["naive"] = naive
        for i in range(args.rounds):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            row = {}
            for side in order:
                before = load()
                row[side] = sides[side]() | {"load_before": before, "load_after": load()}
                print(f"round {i + 1}, {side}: {row[side]}", flush=True)
            results["rounds"].append(row)
        warm.close()
        if args.long:
            results["moodlab_long"] = moodlab_run(longer, folder / "out-long.mp4", env)
            print(f"moodlab, {args.long} s: {results['moodlab_long']}", flush=True)
        summary: dict = {side: [r[side]["seconds"] for r in results["rounds"]] for side in sides}
        if "naive" in sides:  # per round: the sides of one round ran at about the same load
            for side in ("moodlab_cli", "warm_worker"):
                summary[f"{side}_fraction_of_naive"] = [
                    round(r[side]["seconds"] / r["naive"]["seconds"], 3) for r in results["rounds"]
                ]
        results["summary"] = summary
        results["load_at_end"] = load()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
