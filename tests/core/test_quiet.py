"""TensorFlow's start-up and retracing noise stays out of the worker's and the demo's log."""

import logging
import os
import subprocess
import sys

from moodlab.core.quiet import NoiseFilter, filtered_stderr, is_noise, quiet_tensorflow

NOISY = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1 port.cc:153] oneDNN custom operations are on. You may see slightly different",
    "I0000 00:00:1 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not",
    "E0000 00:00:1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error",
    "W0000 00:00:1 cache_dataset_ops.cc:912] The calling iterator did not fully read the dataset"
    " being cached. In order to avoid unexpected truncation",
    "WARNING:tensorflow:5 out of the last 5 calls to <function f> triggered tf.function retracing.",
]


def test_the_known_noise_is_recognised_and_real_errors_are_not():
    assert all(is_noise(line) for line in NOISY)
    assert not is_noise("moodlab: job 3 failed: snapshot 2 has only 1 training images")
    assert not is_noise("E0000 00:00:1 op.cc:1] OOM when allocating tensor with shape[64,128]")


def test_quiet_tensorflow_sets_the_log_level_and_filters_the_python_loggers(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("MOODLAB_TF_VERBOSE", raising=False)
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    logger = logging.getLogger("tensorflow")
    assert any(isinstance(f, NoiseFilter) for f in logger.filters)
    record = logging.LogRecord("tensorflow", logging.WARNING, "", 0, NOISY[-1], None, None)
    assert not logger.filters[0].filter(record)


def test_filtered_stderr_drops_noise_written_past_python_even_by_a_child(capfd, monkeypatch):
    monkeypatch.delenv("MOODLAB_TF_VERBOSE", raising=False)
    lines = [*NOISY, "a real problem"]
    with filtered_stderr():
        os.write(2, ("\n".join(lines) + "\n").encode())  # as TensorFlow's C++ core writes
        subprocess.run(
            [sys.executable, "-c", f"import sys; sys.stderr.write({NOISY[1]!r}+'\\n')"], check=True
        )
    err = capfd.readouterr().err
    assert err == "a real problem\n"
