"""Which Keras dtype policy to train and predict under.

mixed_bfloat16 where the CPU has bfloat16 instructions (AVX512-BF16 or AMX: the
Table 2 CNN trained 2.9x faster and predicted 3.5x faster that way on such a
Xeon), mixed_float16 on a GPU, float32 elsewhere. MOODLAB_PRECISION forces one.

TensorFlow sizes its thread pools to the machine's cores, not to the cores this
process may use (a container's or taskset's CPU set): ``size_thread_pools`` sets
both pools to ``os.sched_getaffinity``'s count before TensorFlow starts its runtime.
"""

from __future__ import annotations

import os
from pathlib import Path

from moodlab.core.errors import ConfigError

POLICIES = ("mixed_bfloat16", "mixed_float16", "float32")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        flags = cpuinfo.read_text(errors="ignore")
    except OSError:
        return False
    return any(flag in flags.split() for flag in BF16_FLAGS)


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def size_thread_pools(threads: int = 0) -> int:
    """Size TensorFlow's intra- and inter-op pools to ``threads`` (0: the usable cores);
    returns the size.

    Only possible before TensorFlow's runtime starts: later calls leave it as it is.
    """
    import tensorflow as tf

    if threads < 0:
        raise ConfigError(f"MOODLAB_TRAINING_THREADS={threads} is below 0")
    cores = threads or usable_cores()
    try:
        if tf.config.threading.get_intra_op_parallelism_threads() != cores:
            tf.config.threading.set_intra_op_parallelism_threads(cores)
            tf.config.threading.set_inter_op_parallelism_threads(cores)
    except RuntimeError:  # the runtime already started (say, a second run in one process)
        pass
    return cores


def grow_gpu_memory() -> list[str]:
    """Let each GPU's memory grow as this process needs it, instead of TensorFlow's
    default of taking all of it: several workers on one GPU box then share its GPUs
    (or each gets its own with CUDA_VISIBLE_DEVICES; docs/postgresql.md, "GPU boxes").
    The GPUs set; only possible before TensorFlow's runtime starts, later calls leave
    it as it is."""
    import tensorflow as tf

    grown = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            grown.append(gpu.name)
        except RuntimeError:  # the runtime already started: it was set then, or cannot be
            pass
    return grown


def choose_policy(forced: str = "", threads: int = 0) -> str:
    """The policy name: ``forced`` (the MOODLAB_PRECISION setting), else from the hardware.

    Called before every training run and prediction, so it sizes the thread pools too
    (``threads``, the MOODLAB_TRAINING_THREADS setting) and lets GPU memory grow.
    """
    size_thread_pools(threads)
    grow_gpu_memory()
    if forced:
        if forced not in POLICIES:
            raise ConfigError(f"MOODLAB_PRECISION={forced!r} is not one of {', '.join(POLICIES)}")
        return forced
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"


def apply_policy(name: str) -> str:
    import keras

    keras.mixed_precision.set_dtype_policy(name)
    return name
