"""make_video: a video (or photos) in, the same footage with fitting music out.

Runs as the `video` job (the worker, or inline from the CLI). Every output is
written under a temporary name and renamed, and recorded in the ``videos``
table with its inputs' hashes, the model, the tracks and the mood timeline.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.models import TrainedModel, Video
from moodlab.core.storage import atomic_write, file_sha256
from moodlab.core.text import plural
from moodlab.images.checks import CheckedImage, Rejected, check_image
from moodlab.images.formats import open_readable
from moodlab.jobs.context import JobContext
from moodlab.video import frames, mux, probe, scenes, slideshow, soundtrack, timeline
from moodlab.video import paths as allowed
from moodlab.video.probe import VideoError
from moodlab.video.request import VideoParams, check_inputs, is_photo, resolve_model
from moodlab.video.result import VideoResult

# Sampled frames kept as evidence for the page (evenly spread over the video).
FRAMES_KEPT = 12


@dataclass
class _Samples:
    """What the model saw: times, probabilities, and a few frames kept for the page."""

    times: np.ndarray
    probs: np.ndarray
    kept: list[tuple[float, np.ndarray, int]]  # (t, 128x128 frame, sample index)


def _sample_video(
    ctx: JobContext,
    model: Any,  # a keras.Model (Keras has no type hints)
    entry: TrainedModel,
    sampler: frames.FrameSampler,
    duration: float,
    fps: float,
) -> _Samples:
    expected = max(1, int(duration * fps))
    keep = set(np.linspace(0, expected - 1, min(FRAMES_KEPT, expected)).round().astype(int))
    kept: list[tuple[float, np.ndarray, int]] = []
    seen = 0

    def on_batch(batch: frames.Batch) -> None:
        nonlocal seen
        for j, (t, frame) in enumerate(zip(batch.times, batch.frames, strict=True)):
            if seen + j in keep:
                kept.append((float(t), frame.copy(), seen + j))
        seen += len(batch.times)
        done = min(1.0, float(batch.times[-1]) / max(duration, 1e-9))
        ctx.progress(0.05 + 0.75 * done, f"predicted {seen} frames ({done:.0%} of the video)")

    times, probs = timeline.predict(model, sampler, image_size=entry.image_size, on_batch=on_batch)
    return _Samples(times, probs, kept)


def _sample_photos(
    ctx: JobContext, model: Any, entry: TrainedModel, photos: list[CheckedImage]
) -> _Samples:
    thumbs = np.stack(
        [np.asarray(open_readable(p.thumbnail_png, ("PNG",)).convert("RGB")) for p in photos]
    )
    times = np.array(slideshow.starts(len(photos)), dtype=np.float64)
    batch = frames.Batch(times, thumbs)
    times, probs = timeline.predict(model, [batch], image_size=entry.image_size)
    ctx.progress(0.4, f"predicted {len(photos)} photos")
    kept = [(float(t), thumb, i) for i, (t, thumb) in enumerate(zip(times, thumbs, strict=True))]
    return _Samples(times, probs, kept)


def plan(
    *,
    session: Session,
    settings: Settings,
    samples: _Samples,
    bounds: list[tuple[float, float]],
    seed: int,
) -> tuple[list[soundtrack.Piece], list[dict], list[str]]:
    """A track per segment, from the mean probabilities of the samples inside it."""
    pieces, segments, warnings = [], [], []
    for start, end in bounds:
        inside = (samples.times >= start) & (samples.times < end)
        chosen = samples.probs[inside] if inside.any() else samples.probs
        decision = timeline.decide(chosen)
        choice = soundtrack.choose_track(
            session=session, settings=settings, probs=decision.probs, seed=seed
        )
        if choice.warning and choice.warning not in warnings:
            warnings.append(choice.warning)
        pieces.append(soundtrack.Piece(choice.track_id, choice.path, choice.mood, start, end))
        segments.append(
            {
                "start_s": round(start, 3),
                "end_s": round(end, 3),
                "mood": decision.mood,
                "confidence": round(decision.confidence, 4),
                "track_id": choice.track_id,
                "track_status": choice.status,
            }
        )
    return pieces, segments, warnings


def _output_path(settings: Settings, params: VideoParams, job_id: int) -> Path:
    if params.out:
        out = Path(params.out).expanduser().resolve()
        if out.suffix.lower() != ".mp4":
            raise VideoError(f"{params.out}: the output must be an .mp4 file")
        return out
    return (settings.data_dir / "videos" / f"job{job_id}.mp4").resolve()


def _stored_path(settings: Settings, path: Path) -> str:
    try:
        return str(path.relative_to(settings.data_dir.resolve()))
    except ValueError:
        return str(path)


def _keep_frames(settings: Settings, job_id: int, samples: _Samples) -> list[dict]:
    folder = settings.data_dir / "videos" / f"job{job_id}-frames"
    names = moods.names()
    kept = []
    for t, frame, index in samples.kept:
        path = folder / f"{index:06d}.png"
        buffer = io.BytesIO()
        PILImage.fromarray(frame).save(buffer, "PNG")
        with atomic_write(path) as handle:
            handle.write(buffer.getvalue())
        row = samples.probs[index]
        kept.append(
            {
                "t": round(t, 3),
                "mood": names[int(row.argmax())],
                "probability": round(float(row.max()), 4),
                "path": _stored_path(settings, path.resolve()),
            }
        )
    return kept


def make_video(
    ctx: JobContext, params: VideoParams, settings: Settings, actor_id: int | None = None
) -> dict[str, Any]:
    """Make the video; the `video make` JSON (docs/cli.md) plus provenance keys."""
    started = time.monotonic()
    # Checked again as the job runs: a queued row is only as safe as its params.
    allowed.check_inputs(params.inputs, params.names, actor=ctx.actor, settings=settings)
    paths = check_inputs(params, settings)
    with ctx.database.session() as session:
        allowed.check_output(
            params.out,
            session=session,
            actor=ctx.actor,
            settings=settings,
            job_id=ctx.job_id,
            fresh=False,
        )
        entry, warnings = resolve_model(session=session, model_id=params.model_id)
        session.expunge(entry)
    fps = params.sample_fps or settings.video_sample_fps
    if fps <= 0:
        raise VideoError(f"--sample-fps must be positive, got {fps}")
    out = _output_path(settings, params, ctx.job_id)
    with tempfile.TemporaryDirectory(prefix="moodlab-video-") as scratch_dir:
        scratch = Path(scratch_dir)
        if is_photo(paths[0]):
            kind = "slideshow"
            photos, names, photo_warnings = _checked_photos(params, settings, paths)
            warnings += photo_warnings
            ctx.progress(0.05, "loading the model")
            model = timeline.load_model(settings, entry)
            samples = _sample_photos(ctx, model, entry, photos)
            duration = slideshow.duration(len(photos))
            cuts = slideshow.starts(len(photos))[1:]
            ctx.progress(0.5, "making the slideshow")
            silent = scratch / "slideshow.mp4"
            slideshow.write([p.display_jpeg for p in photos], silent, fit=params.fit)
            info = probe.probe(silent)
            inputs = [
                {"name": names[i], "sha256": p.sha256, "bytes": len(p.data)}
                for i, p in enumerate(photos)
            ]
        else:
            kind = "video"
            info, duration = _checked_video(params, paths[0])
            ctx.progress(0.02, "loading the model")
            # ffmpeg starts decoding now, while Keras is imported and the model loaded.
            with frames.FrameSampler(info.path, fps=fps) as sampler:
                model = timeline.load_model(settings, entry)
                samples = _sample_video(ctx, model, entry, sampler, duration, fps)
            cuts = []
            if params.segments:
                ctx.progress(0.82, "finding scene cuts")
                cuts = scenes.detect_cuts(info.path)
            inputs = [
                {
                    "name": params.shown(paths[0]),
                    "sha256": file_sha256(paths[0]),
                    "bytes": paths[0].stat().st_size,
                }
            ]
        bounds = scenes.plan_segments(duration, cuts) if params.segments else [(0.0, duration)]
        mode = scenes.describe(duration, cuts, bounds, segments=params.segments)
        if kind == "slideshow":
            mode = mode.replace("scene cut", "photo change").replace("scene", "photo")
            how = "cropped to fill the frame" if params.fit == "fill" else "whole on black"
            mode += f"; photos {how}"
        with ctx.database.session() as session:
            pieces, segments, track_warnings = plan(
                session=session,
                settings=settings,
                samples=samples,
                bounds=bounds,
                seed=params.seed,
            )
        warnings += track_warnings
        if params.keep_audio and kind == "video" and not info.audio_codec:
            warnings.append(f"{params.shown(paths[0])} has no audio to keep")
        ctx.progress(0.88, "making the soundtrack")
        music = scratch / "soundtrack.m4a"
        soundtrack.render(pieces, duration, music)
        ctx.progress(0.94, "writing the video")
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = out.parent / f".{out.name}.{ctx.job_id}.tmp"
        try:
            reencoded = mux.mux(
                info,
                music,
                temporary,
                duration=duration,
                keep_audio=params.keep_audio and kind == "video",
            )
            os.replace(temporary, out)
        finally:
            temporary.unlink(missing_ok=True)
    if reencoded:
        warnings.append(f"its {info.video_codec} video cannot go into MP4: re-encoded to H.264")
    overall = timeline.decide(samples.probs)
    kept = _keep_frames(settings, ctx.job_id, samples)
    result = {
        "output": str(out),
        "mood": overall.mood,
        "confidence": round(overall.confidence, 4),
        "tracks": [p.as_dict() for p in pieces],
        "timeline": _timeline(kind, samples),
        "seconds": round(time.monotonic() - started, 3),
        "warnings": warnings,
        "mode": mode,
        "kind": kind,
        "duration_s": round(duration, 3),
        "segments": segments,
        "mean_probs": dict(zip(moods.names(), overall.probs.round(4).tolist(), strict=True)),
        "model_id": entry.id,
        "snapshot_id": entry.snapshot_id,
        "reencoded": reencoded,
        "frames": kept,
        "settings": {
            "sample_fps": fps,
            "segments": params.segments,
            "seed": params.seed,
            "keep_audio": params.keep_audio,
            "fit": params.fit,
        },
    }
    with ctx.database.session() as session:
        video = Video(
            kind=kind,
            path=_stored_path(settings, out),
            title=inputs[0]["name"],
            mood=overall.mood,
            confidence=overall.confidence,
            duration_s=duration,
            seconds=result["seconds"],
            model_id=entry.id,
            snapshot_id=entry.snapshot_id,
            job_id=ctx.job_id,
            created_by_id=actor_id,
            inputs={"files": inputs},
            report={
                k: result[k]
                for k in (
                    "tracks",
                    "segments",
                    "timeline",
                    "frames",
                    "settings",
                    "warnings",
                    "mode",
                    "mean_probs",
                    "reencoded",
                )
            },
        )
        session.add(video)
        session.flush()
        result["video_id"] = video.id
    return result


def _timeline(kind: str, samples: _Samples) -> list[dict]:
    """The mood over time: a video's samples; a slideshow's photos each from the start to
    the end of its hold, so the timeline reaches the end of the last photo."""
    if kind != "slideshow":
        return timeline.timeline_rows(samples.times, samples.probs)
    spans = slideshow.holds(len(samples.times))
    times = np.array([t for span in spans for t in span])
    return timeline.timeline_rows(times, np.repeat(samples.probs, 2, axis=0))


def _checked_video(params: VideoParams, path: Path) -> tuple[probe.MediaInfo, float]:
    shown = params.shown(path)
    info = probe.probe(path)
    if not info.has_video:
        raise VideoError(f"{shown}: no video stream")
    if info.video_codec in ("none", "unknown"):
        raise VideoError(f"{shown}: codec {info.video_tag or info.video_codec} cannot be decoded")
    if not info.duration_s:
        raise VideoError(f"{shown}: zero length")
    duration = probe.video_duration(info)
    if duration <= 0:
        raise VideoError(f"{shown}: zero length")
    return info, duration


def _checked_photos(
    params: VideoParams, settings: Settings, paths: list[Path]
) -> tuple[list[CheckedImage], list[str], list[str]]:
    """The photos that pass moodlab.images.checks; the others become warnings."""
    photos, names, warnings = [], [], []
    for path in paths:
        try:
            photos.append(
                check_image(
                    path.read_bytes(),
                    max_pixels=settings.max_image_pixels,
                    min_side=settings.min_image_side,
                    max_bytes=settings.video_max_bytes,
                    max_memory=settings.max_image_memory,
                )
            )
            names.append(params.shown(path))
        except Rejected as exc:
            warnings.append(f"{params.shown(path)}: left out: {exc.reason}")
    if not photos:
        raise VideoError("no photo can be used: " + "; ".join(warnings))
    return photos, names, warnings


def run_video(ctx: JobContext, params: VideoParams) -> dict[str, Any]:
    ctx.log(f"making a video from {plural(len(params.inputs), 'file')}")
    result = make_video(ctx, params, ctx.settings, actor_id=ctx.actor.id)
    ctx.log(f"done: {VideoResult.from_json(result).summary()}")
    return result
