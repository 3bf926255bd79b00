"""`moodlab video make` and a warm worker's video job against a naive moviepy pipeline, in one run.

    .venv/bin/python benchmarks/video.py [--seconds 60] [--long 600] [--rounds 2] [--skip-naive]

The clip is 1280x720, 30 fps H.264 with AAC sound (ffmpeg's testsrc2, made here);
the long one is the same clip repeated (ffmpeg's concat demuxer, no re-encode).
The model is the paper's Table 2 CNN at 128x128 (untrained: speed does not depend
on the weights), registered and active; each mood has an accepted 30 s track.

- moodlab: `python -m moodlab video make CLIP --out OUT.mp4 --json --here` (2 frames a
  second through ffmpeg's fps and crop filters, batches of 64, video stream copied),
  made in the command's own process;
- moodlab via a worker: the same command without `--here`, with an idle
  `moodlab worker` running on this machine (warm: it made one video first), which
  the command hands its job to and waits for;
- naive: a script a newcomer would write with moviepy 2: every frame at full
  resolution, PIL resize to 128x128, `model.predict` per frame, the track looped
  with moviepy, `write_videofile(codec="libx264", audio_codec="aac")`.

- warm worker: what the Video page waits for on a worker that has already made a
  video: a child process holds a ``JobWorker`` that ran one video job; each
  measurement queues a video job (the page's start service, claimed as it is queued
  so the `moodlab worker` leaves it) and runs it there until it is done (the
  worker's poll interval, 1 s at most by default, is not included: the page's own
  polling adds about as much).

The CLI and the naive script are timed from process start to exit (imports and
model loading included, as a user waits for them); peak RSS comes from
/usr/bin/time -v. The sides alternate, round by round (CLI, CLI via the worker, warm,
naive, then the reverse), and the load average is printed before and after each
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
from moodlab.jobs import queue
from moodlab.job_kinds import KINDS
from moodlab.jobs.worker import JobWorker, run_taken
from moodlab.video.actions import start_video
from moodlab.video.request import VideoParams

settings = Settings.from_env()
database = Database(settings.database_url)
worker = JobWorker(settings, database, kinds=KINDS)
for line in sys.stdin:
    clip, out = line.split()
    started = time.perf_counter()
    with database.session() as session:  # taken as queued: the `moodlab worker` leaves it
        params = VideoParams(inputs=[clip], out=out)
        job = start_video(session=session, actor=Actor.command_line(), settings=settings,
                          params=params)
        queue.take(job, worker=worker.name)
        job_id = job.id
    run_taken(worker, job_id)
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
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s=1280x720:r=30:d={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=f=330:d={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(short),
    )
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
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command], env=env, cwd=ROOT, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[:4]} failed:\n{result.stderr[-2000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(rss_kb / 1024, 1),
        "stdout": result.stdout,
    }


def moodlab_run(clip: Path, out: Path, env, *more: str) -> dict:
    run = timed(
        [
            sys.executable,
            "-m",
            "moodlab",
            "video",
            "make",
            str(clip),
            "--out",
            str(out),
            "--json",
            *more,
        ],
        env,
    )
    report = json.loads(run.pop("stdout"))
    run["samples"] = len(report["timeline"])
    return run


def idle_worker_seen(env: dict[str, str], timeout: float = 300) -> None:
    """Until `moodlab worker` has registered and heartbeats, idle."""
    probe = (
        "from moodlab.core.config import Settings; from moodlab.core.db import Database;"
        "from moodlab.jobs.handoff import idle_worker; s = Settings.from_env();"
        "d = Database(s.database_url); session = d.session().__enter__();"
        "print(bool(idle_worker(session=session, settings=s)))"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if out.stdout.strip().endswith("True"):
            return
        time.sleep(1)
    raise SystemExit("`moodlab worker` never became idle")


class WarmWorker:
    """The child process holding a JobWorker, TensorFlow and the model between jobs."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, "-c", WARM],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

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
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS, module],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
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
        results: dict = {
            "clip": f"{args.seconds} s 1280x720 30 fps H.264 + AAC",
            "load_at_start": load(),
            "rounds": [],
        }
        print(f"load average at the start: {load()}", flush=True)
        for module in ("keras", "moodlab.cli.main", "moodlab.cli.video", "moodlab.video.service"):
            results[f"import {module}"] = import_seconds(module, env)
            print(f"import {module}: {results[f'import {module}']} s (load {load()})", flush=True)
        script = folder / "naive.py"
        script.write_text(NAIVE)
        track = folder / "music" / "happy.m4a"
        model = folder / "data" / "models" / "deep.keras"
        warm = WarmWorker(env)
        # `moodlab video make` hands its job to this one (an idle worker on this machine).
        served = subprocess.Popen(
            [sys.executable, "-m", "moodlab", "worker"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        idle_worker_seen(env)
        started = time.perf_counter()
        handed = moodlab_run(short, folder / "warm-up-handed.mp4", env)
        print(
            f"moodlab worker, first (cold) job through `video make`: {handed} after"
            f" {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        idle_worker_seen(env)
        started = time.perf_counter()
        first = warm.job(short, folder / "warm-up.mp4")
        if first["status"] != "succeeded":
            raise SystemExit(f"the warm worker's first job failed: {first}")
        print(f"warm worker, first (cold) job: {first} after {time.perf_counter() - started:.1f} s")

        made = iter(range(1, 1000))  # each video its own file: one may not overwrite another's

        def cli() -> dict:
            return moodlab_run(short, folder / f"out-short-{next(made)}.mp4", env, "--here")

        def cli_worker() -> dict:
            idle_worker_seen(env)  # its last job finished; not part of the command's time
            return moodlab_run(short, folder / f"out-handed-{next(made)}.mp4", env)

        def warm_job() -> dict:
            return warm.job(short, folder / f"out-warm-{next(made)}.mp4")

        def naive() -> dict:
            run = timed(
                [
                    sys.executable,
                    str(script),
                    str(short),
                    str(model),
                    str(track),
                    str(folder / "naive.mp4"),
                ],
                env,
            )
            run.pop("stdout")
            return run

        sides = {"moodlab_cli": cli, "moodlab_cli_worker": cli_worker, "warm_worker": warm_job}
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
        served.terminate()
        served.wait(timeout=60)
        if args.long:
            results["moodlab_long"] = moodlab_run(longer, folder / "out-long.mp4", env)
            print(f"moodlab, {args.long} s: {results['moodlab_long']}", flush=True)
        summary: dict = {side: [r[side]["seconds"] for r in results["rounds"]] for side in sides}
        if "naive" in sides:  # per round: the sides of one round ran at about the same load
            for side in ("moodlab_cli", "moodlab_cli_worker", "warm_worker"):
                summary[f"{side}_fraction_of_naive"] = [
                    round(r[side]["seconds"] / r["naive"]["seconds"], 3) for r in results["rounds"]
                ]
        results["summary"] = summary
        results["load_at_end"] = load()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
