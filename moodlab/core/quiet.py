"""Quiet logs: TensorFlow's start-up and retracing noise kept out of what a user reads.

TensorFlow prints, at import and while training, lines a user can do nothing about:
CUDA probing and oneDNN notes from its C++ core, the "did not fully read the dataset
being cached" warning (moodlab caches each fold's input and stops reading at the
epoch's end on purpose) and tf.function retracing notes. Call ``quiet_tensorflow``
before TensorFlow is imported (the command line does, for the worker and the demo);
errors still show. Some of the C++ notes come before TensorFlow reads its log level, so
``filtered_stderr`` also drops those lines from the process's stderr (the worker and the
demo's build run inside it). ``MOODLAB_TF_VERBOSE=1`` turns both off, for debugging.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator

# The C++ core's threshold: 0 all, 1 no INFO, 2 no WARNING, 3 no ERROR.
TF_CPP_MIN_LOG_LEVEL = "2"
NOISE = re.compile(
    r"retracing|did not fully read the dataset being cached|oneDNN custom operations"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|could not find cuda drivers"
    r"|TensorFlow binary is optimized|rebuild TensorFlow with the appropriate compiler flags"
    r"|All log messages before absl::InitializeLog|failed call to cuInit",
    re.IGNORECASE,
)


class NoiseFilter(logging.Filter):
    """Drops TensorFlow's known noise from a logger; everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not NOISE.search(record.getMessage())


def quiet_tensorflow() -> None:
    if os.environ.get("MOODLAB_TF_VERBOSE") == "1":
        return
    # Children (the worker that `serve` starts) inherit these.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_CPP_MIN_LOG_LEVEL)
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for name in ("tensorflow", "absl", "keras", "h5py"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, NoiseFilter) for f in logger.filters):
            logger.addFilter(NoiseFilter())
    warnings.filterwarnings("ignore", message=NOISE.pattern)


def is_noise(line: str) -> bool:
    return bool(NOISE.search(line))


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """File descriptor 2 through a filter that drops TensorFlow's noise lines, so the
    C++ core's notes (written past Python's sys.stderr) are dropped too."""
    if os.environ.get("MOODLAB_TF_VERBOSE") == "1":
        yield
        return
    try:
        original = os.dup(2)
    except OSError:  # no stderr to filter
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def copy() -> None:
        with os.fdopen(read_end, "rb") as source, os.fdopen(original, "wb", 0) as sink:
            for line in source:
                if not is_noise(line.decode("utf-8", errors="replace")):
                    sink.write(line)

    copier = threading.Thread(target=copy, name="stderr-filter", daemon=True)
    copier.start()
    saved = os.dup(original)
    try:
        yield
    finally:
        os.dup2(saved, 2)  # the pipe's last writer closes: the copier drains and stops
        os.close(saved)
        copier.join(timeout=5)
