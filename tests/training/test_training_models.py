"""The networks as the paper describes them."""

import pytest

from moodlab.core.errors import ConfigError, MoodlabError
from moodlab.training import architectures
from moodlab.training.precision import choose_policy, cpu_has_bf16


def test_the_deep_cnn_has_the_papers_parameter_count():
    model = architectures.deep(128)
    assert model.count_params() == 2_344_296
    flatten = next(layer for layer in model.layers if layer.name.startswith("flatten"))
    assert flatten.output.shape[-1] == 4096
    assert model.output_shape == (None, 8)


def test_the_plain_cnn_is_smaller_and_has_eight_outputs():
    model = architectures.plain(128)
    assert model.output_shape == (None, 8)
    assert model.count_params() < architectures.deep(128).count_params() * 4


def test_unknown_architectures_are_named():
    with pytest.raises(MoodlabError, match="unknown architecture 'resnet'"):
        architectures.build("resnet")


def test_precision_follows_the_cpu_flags_and_can_be_forced(tmp_path):
    with_bf16 = tmp_path / "cpuinfo"
    with_bf16.write_text("flags\t: fpu sse avx512f avx512_bf16 amx_tile\n")
    without = tmp_path / "plain"
    without.write_text("flags\t: fpu sse avx2\n")
    assert cpu_has_bf16(with_bf16) and not cpu_has_bf16(without)
    assert choose_policy("float32") == "float32"
    with pytest.raises(ConfigError, match="MOODLAB_PRECISION='half'"):
        choose_policy("half")


@pytest.mark.parametrize("arch", ["deep", "plain"])
def test_every_model_centres_its_own_input(arch, tmp_path):
    import keras
    import numpy as np

    model = architectures.build(arch, 32)
    centre = model.get_layer("centre")
    assert model.layers.index(centre) == 1  # right after the input
    pixels = np.array([[[[0.0, 0.5, 1.0]]]], dtype="float32")
    assert centre(pixels).numpy().ravel().tolist() == [-1.0, 0.0, 1.0]
    model.save(tmp_path / "m.keras")  # the saved model carries its preprocessing
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    assert loaded.get_layer("centre").get_config()["offset"] == -1.0


def thread_pools_after(setup: str) -> list[str]:
    """TensorFlow's intra- and inter-op pool sizes in a fresh process after ``setup``."""
    import os
    import subprocess
    import sys

    code = (
        f"{setup};import tensorflow as tf; tf.constant(1.0) + 1;"
        "print(tf.config.threading.get_intra_op_parallelism_threads(),"
        " tf.config.threading.get_inter_op_parallelism_threads())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=os.getcwd()
    )
    assert out.returncode == 0, out.stderr[-1500:]
    return out.stdout.split()[-2:]


def test_tensorflow_thread_pools_follow_the_cores_this_process_may_use():
    one_core = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))});"
        "from moodlab.training.precision import choose_policy; choose_policy('float32')"
    )
    assert thread_pools_after(one_core) == ["1", "1"]  # one core allowed: pools of one


def test_training_threads_can_be_set_below_the_cores_and_never_below_zero(monkeypatch):
    from moodlab.core.config import Settings
    from moodlab.training.precision import size_thread_pools

    monkeypatch.setenv("MOODLAB_TRAINING_THREADS", "1")
    assert Settings.from_env().training_threads == 1
    with pytest.raises(ConfigError, match="MOODLAB_TRAINING_THREADS=-1 is below 0"):
        size_thread_pools(-1)
    # All the cores this machine lets it use (2 here), but one thread asked for.
    threads = "from moodlab.training.precision import choose_policy; choose_policy('float32', 1)"
    assert thread_pools_after(threads) == ["1", "1"]
