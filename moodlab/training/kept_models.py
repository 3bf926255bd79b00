"""One compiled model kept per architecture and shape in a process, for every fit of it.

Keras traces a model's train step into a TensorFlow graph on its first fit, and a new
model traces again: at the demo's 16 px that was about 2 s of a core a fit (45% of a
plain run of 4 fits, by py-spy), more than the plain CNN's updates. A process that
fits the same architecture again (a run's folds and final model, a worker taking
fold after fold) keeps the first compiled model and, for each new fit, gives it the
weights a new model built under the fit's seed has, and the optimizer's state from
before its first update. The fit is then the one a new model would make: the same
initial weights, the same dropout seeds (their state is among ``model.variables``),
the same optimizer start (docs/architecture.md, "Training").

A kept model is one fit's at a time: its weights belong to the last fit that used
it, so a fit's model is saved and scored before the next fit starts, as jobs do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# (architecture, image side, dtype policy) -> (compiled model, optimizer's first state)
_KEPT: dict[tuple[str, int, str], tuple[Any, list[np.ndarray]]] = {}


def model_for_fit(built: Any, arch: str, image_size: int, compile_model: Any) -> Any:
    """A compiled model that starts as ``built`` (just built, under the fit's seed) does.

    ``compile_model`` compiles a model (runs.compiled); it is called once a process
    for each architecture, image side and dtype policy.
    """
    import keras

    key = (arch, image_size, keras.config.dtype_policy().name)
    kept = _KEPT.get(key)
    if kept is None:
        model = compile_model(built)
        model.optimizer.build(model.trainable_variables)  # its state, before any update
        _KEPT[key] = (model, [np.array(v.numpy()) for v in model.optimizer.variables])
        return model
    model, optimizer_start = kept
    for target, source in zip(model.variables, built.variables, strict=True):
        target.assign(source)
    for variable, value in zip(model.optimizer.variables, optimizer_start, strict=True):
        variable.assign(value)
    return model


def forget() -> None:
    """Drop the kept models (tests that compare a kept model's fit with a new one's)."""
    _KEPT.clear()
