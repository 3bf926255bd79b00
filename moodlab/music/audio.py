"""Audio in and out through ffmpeg, and the measurements moodlab takes of a track.

ffmpeg comes with imageio-ffmpeg (there is no ffprobe): a file is checked by
decoding all of it to PCM, and its input stream line gives the sample rate.
Loudness (ITU-R BS.1770 integrated, in LUFS) and tempo are measured with numpy
and scipy on the decoded samples, so generated and uploaded tracks are measured
the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodlab.core import processes
from moodlab.core.errors import MoodlabError

# Analyses run on mono at this rate: enough for tempo, key and loudness, and cheap.
ANALYSIS_RATE = 22_050
# A decoded file shorter than its header says by more than this is truncated.
TRUNCATION_TOLERANCE_S = 1.0


class AudioError(MoodlabError):
    """A file that is not usable audio; the message names the file and the reason."""


@dataclass(frozen=True)
class Decoded:
    samples: np.ndarray  # float32, shape (frames, channels)
    rate: int  # the rate of ``samples``
    source_rate: int  # the file's own sample rate
    codec: str
    declared_s: float | None  # the duration the container claims

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    @property
    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=1)


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode(path: Path, *, label: str | None = None, rate: int = ANALYSIS_RATE, channels: int = 1):
    """Decode the first audio stream of ``path`` completely; AudioError if it does not decode."""
    label = label or Path(path).name
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "level+info",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-f",
        "f32le",
        "-c:a",
        "pcm_f32le",
        "-ac",
        str(channels),
        "-ar",
        str(rate),
        "pipe:1",
    ]
    done = processes.run(command, capture_output=True, check=False)
    log = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise AudioError(f"{label}: not audio that ffmpeg can decode ({_ffmpeg_reason(log)})")
    if corrupt := [line for line in log.splitlines() if "corrupt" in line.lower()]:
        raise AudioError(f"{label}: damaged or truncated ({_strip_prefix(corrupt[0])})")
    samples = np.frombuffer(done.stdout, dtype="<f4").reshape(-1, channels)
    codec, source_rate = _input_stream(log, label)
    decoded = Decoded(samples, rate, source_rate, codec, _declared_duration(log))
    if decoded.declared_s and decoded.duration_s < decoded.declared_s - TRUNCATION_TOLERANCE_S:
        raise AudioError(
            f"{label}: truncated: its header says {decoded.declared_s:.1f} s"
            f" but only {decoded.duration_s:.1f} s decode"
        )
    return decoded


def encode_mp3(samples: np.ndarray, rate: int, path: Path) -> None:
    """MP3 (LAME, variable bit rate near 130-160 kb/s): every browser plays it, and it
    encodes five times faster than ffmpeg's AAC here. Bit-exact flags, no metadata."""
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "f32le",
        "-ar",
        str(rate),
        "-ac",
        str(samples.shape[1]),
        "-i",
        "pipe:0",
        "-c:a",
        "libmp3lame",
        "-q:a",
        "4",
        "-compression_level",
        "7",
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        "-flags:a",
        "+bitexact",
        "-f",
        "mp3",
        str(path),
    ]
    data = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    done = processes.run(command, input=data, capture_output=True, check=False)
    if done.returncode != 0:
        raise AudioError(f"ffmpeg could not encode {path.name}: {_ffmpeg_reason(done.stderr)}")


def _strip_prefix(line: str) -> str:
    return re.sub(r"^(\[[^\]]*\]\s*)+", "", line).strip()


def _ffmpeg_reason(log: str | bytes) -> str:
    if isinstance(log, bytes):
        log = log.decode("utf-8", "replace")
    lines = [
        _strip_prefix(line)
        for line in log.splitlines()
        if "[error]" in line or "[fatal]" in line or "Error" in line
    ]
    if any("matches no streams" in line for line in lines):
        return "it has no audio stream"
    return lines[0] if lines else "ffmpeg failed"


def _input_section(log: str) -> str:
    return log.split("Stream mapping:")[0]


def _input_stream(log: str, label: str) -> tuple[str, int]:
    match = re.search(r"Stream #0:\d+.*?: Audio: ([^,(\s]+).*?, (\d+) Hz", _input_section(log))
    if match is None:
        raise AudioError(f"{label}: ffmpeg found no audio stream")
    return match.group(1), int(match.group(2))


def _declared_duration(log: str) -> float | None:
    match = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", _input_section(log))
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


# --- measurements -------------------------------------------------------------------------


def _biquad_k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """BS.1770's two pre-filters (high shelf, then high-pass) for any sample rate.

    The RBJ-cookbook forms with the parameters pyloudnorm uses; within 0.1 LU of
    the standard's 48 kHz coefficients.
    """
    gain_db, shelf_hz, shelf_q = 4.0, 1500.0, 1 / np.sqrt(2)
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * shelf_hz / rate
    alpha = np.sin(w0) / (2 * shelf_q)
    cos = np.cos(w0)
    shelf_b = a * np.array(
        [
            (a + 1) + (a - 1) * cos + 2 * np.sqrt(a) * alpha,
            -2 * ((a - 1) + (a + 1) * cos),
            (a + 1) + (a - 1) * cos - 2 * np.sqrt(a) * alpha,
        ]
    )
    shelf_a = np.array(
        [
            (a + 1) - (a - 1) * cos + 2 * np.sqrt(a) * alpha,
            2 * ((a - 1) - (a + 1) * cos),
            (a + 1) - (a - 1) * cos - 2 * np.sqrt(a) * alpha,
        ]
    )
    w0 = 2 * np.pi * 38.0 / rate
    alpha = np.sin(w0) / (2 * 0.5)
    cos = np.cos(w0)
    high_b = np.array([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2])
    high_a = np.array([1 + alpha, -2 * cos, 1 - alpha])
    return [(shelf_b, shelf_a), (high_b, high_a)]


def loudness_lufs(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4): K-weighted, 400 ms blocks, gated."""
    from scipy import signal  # imported on use: scipy takes 0.7 s to import

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    for b, a in _biquad_k_weighting(rate):
        x = signal.lfilter(b, a, x, axis=0)
    block, step = int(0.4 * rate), int(0.1 * rate)
    if len(x) < block:
        return float("-inf")
    power = np.cumsum(
        np.concatenate([np.zeros((1, x.shape[1])), x.astype(np.float64) ** 2]), axis=0
    )
    starts = np.arange(0, len(x) - block + 1, step)
    mean_square = ((power[starts + block] - power[starts]) / block).sum(axis=1)
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(mean_square)
    gated = mean_square[levels > -70]
    if gated.size == 0:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10
    with np.errstate(divide="ignore"):
        final = gated[-0.691 + 10 * np.log10(gated) > relative]
    return float(-0.691 + 10 * np.log10(final.mean()))


def _spectrogram(mono: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Magnitudes (frames x bins), bin frequencies, and frames per second."""
    size, hop = 2048, 512
    if len(mono) < size:
        mono = np.pad(mono, (0, size - len(mono)))
    frames = np.lib.stride_tricks.sliding_window_view(mono.astype(np.float32), size)[::hop]
    magnitudes = np.abs(np.fft.rfft(frames * np.hanning(size).astype(np.float32), axis=1))
    return magnitudes, np.fft.rfftfreq(size, 1 / rate), rate / hop


def onset_envelope(mono: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
    """Spectral flux: how much new energy each frame brings; and its frame rate.

    Each frame is compared with the previous one widened by a few bins (as in
    SuperFlux, Boeck & Widmer 2013), so vibrato does not count as new notes.
    """
    from scipy import ndimage  # imported on use: scipy takes 0.7 s to import

    magnitudes, _, fps = _spectrogram(mono, rate)
    level = np.log1p(100 * magnitudes)
    previous = ndimage.maximum_filter1d(level[:-1], size=7, axis=1)
    flux = np.maximum(0.0, level[1:] - previous).sum(axis=1)
    local_mean = np.convolve(flux, np.ones(16) / 16, mode="same")  # ~0.4 s
    return np.maximum(0.0, flux - local_mean), fps


def estimate_tempo(mono: np.ndarray, rate: int) -> float | None:
    """Beats per minute from the autocorrelation of the onset envelope.

    Lags between 40 and 200 BPM are weighted by a log-normal prior around 110 BPM
    (one octave wide), as beat trackers do, to settle octave ambiguity.
    """
    envelope, fps = onset_envelope(mono, rate)
    if len(envelope) < fps * 4 or not envelope.any():
        return None
    centred = envelope - envelope.mean()
    spectrum = np.fft.rfft(centred, 2 * len(centred))
    autocorrelation = np.fft.irfft(spectrum * np.conj(spectrum))[: len(centred)]
    lags = np.arange(int(fps * 60 / 200), int(fps * 60 / 40) + 1)
    lags = lags[lags < len(autocorrelation)]
    if lags.size == 0:
        return None
    bpm = 60 * fps / lags
    prior = np.exp(-0.5 * np.log2(bpm / 110) ** 2)
    best = lags[np.argmax(np.maximum(autocorrelation[lags], 0) * prior)]
    return round(float(60 * fps / best), 1)
