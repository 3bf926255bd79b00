"""Settings, read from the environment, with embedded defaults.

Each setting is one dataclass field whose metadata names its environment
variable, says what it does and, for a number, the least and the most it may be;
docs/configuration.md's table is checked against these fields by tests/test_docs.py.
Settings are checked when they are read (``from_env``): a value out of its range is
refused with the variable, the value and the range named.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path

from moodlab.core.errors import ConfigError


def _setting(
    default,
    env: str,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
):
    """A setting; a number's ``minimum`` and ``maximum`` are allowed values themselves."""
    metadata = {"env": env, "help": help, "minimum": minimum, "maximum": maximum}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "sqlite:///db/moodlab.sqlite",
        "MOODLAB_DATABASE_URL",
        "SQLAlchemy database URL of the lab database",
    )
    data_dir: Path = _setting(
        Path("data"), "MOODLAB_DATA_DIR", "where images, models, exports and videos are stored"
    )
    music_dir: Path = _setting(Path("music"), "MOODLAB_MUSIC_DIR", "the track library")
    cache_dir: Path = _setting(
        Path("cache"),
        "MOODLAB_CACHE_DIR",
        "generated files kept for reuse (rendered default tracks, the demo's pictures);"
        " safe to delete",
    )
    host: str = _setting(
        "127.0.0.1",
        "MOODLAB_HOST",
        "address `moodlab serve` listens on; 0.0.0.0 (every interface) lets other machines in",
    )
    allowed_hosts: str = _setting(
        "",
        "MOODLAB_ALLOWED_HOSTS",
        "more names the web app answers to, comma-separated (`name` for any port, `name:port`"
        " for one), beside localhost, 127.0.0.1, [::1], the listening address and the name"
        " `--host` gave: a reverse proxy's public name; any other Host header gets 400",
    )
    header_timeout_seconds: float = _setting(
        10.0,
        "MOODLAB_HEADER_TIMEOUT_SECONDS",
        "a connection to the web app that has not sent a whole request head within this"
        " many seconds is closed",
        minimum=1.0,
        maximum=600.0,
    )
    websockets_per_address: int = _setting(
        20,
        "MOODLAB_WEBSOCKETS_PER_ADDRESS",
        "open app connections (one per browser tab) one client address may hold",
        minimum=1,
        maximum=10_000,
    )
    upload_max_bytes: int = _setting(
        200_000_000,
        "MOODLAB_UPLOAD_MAX_BYTES",
        "largest file the Crawl & import page takes from a browser (an image or a .zip of"
        " images), in bytes; bigger imports go through a folder on the server",
        minimum=1_000_000,
        maximum=100_000_000_000,
    )
    annotators_per_item: int = _setting(
        4,
        "MOODLAB_ANNOTATORS_PER_ITEM",
        "votes an image needs before it is complete",
        minimum=2,
        maximum=100,
    )
    train_quorum: int = _setting(
        3,
        "MOODLAB_TRAIN_QUORUM",
        "votes for one mood that put an image in the train tier",
        minimum=2,
        maximum=100,
    )
    test_quorum: int = _setting(
        2,
        "MOODLAB_TEST_QUORUM",
        "votes for a unique top mood that put an image in the test tier",
        minimum=1,
        maximum=99,
    )
    login_max_failures: int = _setting(
        5,
        "MOODLAB_LOGIN_MAX_FAILURES",
        "failed logins for one name before it is locked out",
        minimum=1,
        maximum=1000,
    )
    login_max_failures_per_address: int = _setting(
        20,
        "MOODLAB_LOGIN_MAX_FAILURES_PER_ADDRESS",
        "failed logins from one client address, whatever the names, before it is locked out",
        minimum=1,
        maximum=100_000,
    )
    login_lockout_seconds: int = _setting(
        300,
        "MOODLAB_LOGIN_LOCKOUT_SECONDS",
        "how long a locked-out name must wait",
        minimum=1,
        maximum=86_400,
    )
    session_idle_minutes: int = _setting(
        480,
        "MOODLAB_SESSION_IDLE_MINUTES",
        "a browser session idle this long is logged out",
        minimum=1,
        maximum=43_200,
    )
    job_heartbeat_seconds: float = _setting(
        5.0,
        "MOODLAB_JOB_HEARTBEAT_SECONDS",
        "how often a worker reports that its job is alive",
        minimum=0.05,
        maximum=300,
    )
    job_stale_seconds: float = _setting(
        60.0,
        "MOODLAB_JOB_STALE_SECONDS",
        "a running job without a heartbeat this long is recovered (re-queued once, then failed)",
        minimum=0.1,
        maximum=86_400,
    )
    job_queues: str = _setting(
        "",
        "MOODLAB_JOB_QUEUES",
        "moves job kinds to other queues, comma-separated `kind=queue` (`video=training`);"
        " the rest keep their own (training parts on `training`, the others on `io`)",
    )
    job_time_limits: str = _setting(
        "",
        "MOODLAB_JOB_TIME_LIMITS",
        "time limits in seconds per job kind, comma-separated `kind=seconds` (`train_fold=7200`);"
        ' the rest keep their own (docs/postgresql.md, "Time limits"); a job past its limit fails',
    )
    job_retention_days: float = _setting(
        30.0,
        "MOODLAB_JOB_RETENTION_DAYS",
        "finished jobs (and their log lines) and stopped workers older than this are pruned;"
        " never a job a model, snapshot or video points at",
        minimum=0.01,
        maximum=36_500,
    )
    child_timeout_seconds: float = _setting(
        3600.0,
        "MOODLAB_CHILD_TIMEOUT_SECONDS",
        "the longest one ffmpeg (or other child) process of a job may run before it is killed",
        minimum=1,
        maximum=86_400,
    )
    worker_poll_seconds: float = _setting(
        1.0,
        "MOODLAB_WORKER_POLL_SECONDS",
        "how often an idle worker looks for queued jobs",
        minimum=0.01,
        maximum=60,
    )
    crawl_delay_seconds: float = _setting(
        1.0,
        "MOODLAB_CRAWL_DELAY_SECONDS",
        "least time between two requests to one host",
        minimum=0.01,
        maximum=60,
    )
    crawl_connect_timeout: float = _setting(
        5.0,
        "MOODLAB_CRAWL_CONNECT_TIMEOUT",
        "seconds to wait for a host to accept a connection",
        minimum=0.1,
        maximum=120,
    )
    crawl_read_timeout: float = _setting(
        15.0,
        "MOODLAB_CRAWL_READ_TIMEOUT",
        "seconds a response may stall; a whole response gets the connect timeout plus twice this",
        minimum=0.1,
        maximum=300,
    )
    crawl_concurrency: int = _setting(
        8,
        "MOODLAB_CRAWL_CONCURRENCY",
        "hosts fetched at once (each host still one at a time)",
        minimum=1,
        maximum=64,
    )
    max_image_bytes: int = _setting(
        20_000_000,
        "MOODLAB_MAX_IMAGE_BYTES",
        "largest image file accepted, in bytes",
        minimum=1,
        maximum=1_000_000_000,
    )
    max_image_pixels: int = _setting(
        89_478_485,
        "MOODLAB_MAX_IMAGE_PIXELS",
        "largest image accepted, in pixels (decompression-bomb guard; Pillow's default)",
        minimum=1,
        maximum=1_000_000_000,
    )
    max_image_memory: int = _setting(
        500_000_000,
        "MOODLAB_MAX_IMAGE_MEMORY",
        "most memory checking one image may take, in bytes (its decoded pixels and their"
        " copies, estimated from the header before decoding)",
        minimum=10_000_000,
        maximum=100_000_000_000,
    )
    min_image_side: int = _setting(
        64,
        "MOODLAB_MIN_IMAGE_SIDE",
        "smallest width and height accepted, in pixels",
        minimum=1,
        maximum=4096,
    )
    near_duplicate_distance: int = _setting(
        12,
        "MOODLAB_NEAR_DUPLICATE_DISTANCE",
        "perceptual-hash Hamming distance at or below which an image may be a near-duplicate"
        " (it is one when its colours are near too)",
        minimum=0,
        maximum=64,
    )
    near_duplicate_colour: float = _setting(
        3.0,
        "MOODLAB_NEAR_DUPLICATE_COLOUR",
        "mean CIELAB distance of the 4x4 colour layouts at or below which an image with a near"
        " perceptual hash is a near-duplicate",
        minimum=0,
        maximum=100,
    )
    openverse_url: str = _setting(
        "",
        "MOODLAB_OPENVERSE_URL",
        "Openverse image-search API to source from by keyword; empty (the default) turns it off",
    )
    precision: str = _setting(
        "",
        "MOODLAB_PRECISION",
        "Keras dtype policy: mixed_bfloat16, mixed_float16 or float32; empty picks by hardware",
    )
    training_threads: int = _setting(
        0,
        "MOODLAB_TRAINING_THREADS",
        "TensorFlow threads of each training or predicting process; 0 uses every core it may"
        " run on (two workers on two cores train faster with 1 each)",
        minimum=0,
        maximum=1024,
    )
    features_on_arrival: int = _setting(
        1,
        "MOODLAB_FEATURES_ON_ARRIVAL",
        "1 queues the job that keeps the pretrained backbone's features of new images after"
        " each import or crawl that stored some; 0 leaves them to the next transfer run",
        minimum=0,
        maximum=1,
    )
    music_seed: int = _setting(
        0,
        "MOODLAB_MUSIC_SEED",
        "seed of the generated default music library (same seed, same tracks)",
        minimum=0,
        maximum=2_147_483_647,
    )
    music_tracks_per_mood: int = _setting(
        4,
        "MOODLAB_MUSIC_TRACKS_PER_MOOD",
        "generated tracks per mood in the default music library; 0 generates none",
        minimum=0,
        maximum=50,
    )
    music_max_bytes: int = _setting(
        50_000_000,
        "MOODLAB_MUSIC_MAX_BYTES",
        "largest music file accepted, in bytes",
        minimum=1,
        maximum=1_000_000_000,
    )
    music_min_seconds: float = _setting(
        10.0,
        "MOODLAB_MUSIC_MIN_SECONDS",
        "shortest music track accepted, in seconds",
        minimum=1,
        maximum=3600,
    )
    music_max_seconds: float = _setting(
        1200.0,
        "MOODLAB_MUSIC_MAX_SECONDS",
        "longest music track accepted, in seconds",
        minimum=2,
        maximum=86_400,
    )
    video_max_bytes: int = _setting(
        2_000_000_000,
        "MOODLAB_VIDEO_MAX_BYTES",
        "largest video or photo file accepted for a video, in bytes (uploads and the CLI)",
        minimum=1,
        maximum=100_000_000_000,
    )
    video_input_dirs: str = _setting(
        "",
        "MOODLAB_VIDEO_INPUT_DIRS",
        "folders on the server (separated by the path separator, ':' on Linux) whose files"
        " logged-in users may make videos from, beside uploads and the music library; empty"
        " (the default) allows none",
    )
    video_sample_fps: float = _setting(
        2.0,
        "MOODLAB_VIDEO_SAMPLE_FPS",
        "frames a second sampled from a video for its mood",
        minimum=0.01,
        maximum=60,
    )
    import_max_members: int = _setting(
        50_000,
        "MOODLAB_IMPORT_MAX_MEMBERS",
        "most files one zip import may hold (zip-bomb guard)",
        minimum=1,
        maximum=10_000_000,
    )
    import_max_total_bytes: int = _setting(
        5_000_000_000,
        "MOODLAB_IMPORT_MAX_TOTAL_BYTES",
        "most uncompressed bytes one zip import may hold (zip-bomb guard)",
        minimum=1,
        maximum=1_000_000_000_000,
    )

    @property
    def allowed_host_entries(self) -> list[str]:
        return [part.strip() for part in self.allowed_hosts.split(",") if part.strip()]

    @property
    def video_input_folders(self) -> list[Path]:
        return [Path(part).expanduser() for part in self.video_input_dirs.split(os.pathsep) if part]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _parse(f.metadata["env"], raw.strip(), type(f.default))
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ConfigError for the first setting out of its range, then for settings
        that disagree with each other."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata["minimum"] is not None and not _within(value, f):
                raise ConfigError(
                    f"{f.metadata['env']}={_shown(value)} is out of range:"
                    f" allowed {allowed_range(f)}"
                )
        if not self.test_quorum < self.train_quorum <= self.annotators_per_item:
            raise ConfigError(
                "quorum settings must satisfy 1 <= MOODLAB_TEST_QUORUM < MOODLAB_TRAIN_QUORUM"
                f" <= MOODLAB_ANNOTATORS_PER_ITEM; got test={self.test_quorum},"
                f" train={self.train_quorum}, annotators={self.annotators_per_item}"
            )
        for entry in self.allowed_host_entries:
            if not _HOST_ENTRY.fullmatch(entry):
                raise ConfigError(
                    f"MOODLAB_ALLOWED_HOSTS: {entry!r} is not a host name, `name:port` or"
                    " `[IPv6]:port`"
                )
        if self.music_min_seconds >= self.music_max_seconds:
            raise ConfigError(
                "MOODLAB_MUSIC_MIN_SECONDS must be less than MOODLAB_MUSIC_MAX_SECONDS"
            )
        if self.job_stale_seconds <= self.job_heartbeat_seconds:
            raise ConfigError(
                "MOODLAB_JOB_STALE_SECONDS must be longer than MOODLAB_JOB_HEARTBEAT_SECONDS"
            )


def _within(value: float, f: Field) -> bool:
    low, high = f.metadata["minimum"], f.metadata["maximum"]
    return math.isfinite(value) and low <= value and (high is None or value <= high)


def _shown(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def allowed_range(f: Field) -> str:
    """A number setting's range in words: "0 to 64", "1 to 1,000", or "at least 1"."""
    low, high = f.metadata["minimum"], f.metadata["maximum"]
    return f"at least {_bound(low)}" if high is None else f"{_bound(low)} to {_bound(high)}"


def _bound(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


# A host name or IP address, IPv6 in brackets, and an optional port.
_HOST_ENTRY = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?")


def _parse(env: str, raw: str, kind: type):
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise ConfigError(f"{env}={raw!r} is not {noun}") from None
    if issubclass(kind, Path):
        return Path(raw).expanduser()
    return raw


def documented_settings() -> list[tuple[str, str, str, str]]:
    """(environment variable, default, allowed range or "", help) for every setting, for
    the docs and --help."""
    return [
        (
            f.metadata["env"],
            str(f.default),
            allowed_range(f) if f.metadata["minimum"] is not None else "",
            f.metadata["help"],
        )
        for f in fields(Settings)
    ]
