"""How a built demo's models label the photographs none of them trained on.

    .venv/bin/python benchmarks/demo_photos.py [--dir demo]

--dir is a workspace `moodlab demo --build-only` made. Its snapshot's test split holds
the pictures no fold and no final model trained on; the photographs among them
(moodlab/demo_photos/, imported as photo-FILE) are scored by every registered model of
that snapshot against the mood the team labelled them (ATTRIBUTION.csv), not against the
simulated annotators' votes: exact, and exact or a neighbour on Russell's circle. The
models predict as `moodlab models evaluate` does (transfer from the kept backbone
features at 224 px, the CNNs from the thumbnails at their image size). Prints one JSON
object; docs/benchmarks.md ("The demo") quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("demo"))
    args = parser.parse_args()

    from moodlab.demo import Workspace

    workspace = Workspace(args.dir)
    if not workspace.exists():
        raise SystemExit(f"{args.dir} is not a demo workspace: `moodlab demo --build-only` first")
    os.environ.update(workspace.environment)

    import numpy as np
    from sqlalchemy import select

    from moodlab.core import moods
    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.core.models import Image, SnapshotMember, TrainedModel
    from moodlab.core.storage import ContentStore
    from moodlab.demo_data import photos
    from moodlab.images.intake import thumbnail_path
    from moodlab.training import fine_tune
    from moodlab.training.registry import load_registered
    from moodlab.training.runs import TrainParams, _predict, evaluate

    settings = Settings.from_env()
    database = Database(settings.database_url)
    team = {f"photo-{photo.file}": photo.mood for photo in photos()}
    names = moods.names()
    with database.session() as session:
        models = session.scalars(select(TrainedModel).order_by(TrainedModel.id)).all()
        if not models:
            raise SystemExit(f"{args.dir} has no trained model: its build did not finish")
        snapshot_id = models[0].snapshot_id
        rows = session.execute(
            select(Image.sha256, Image.original_name)
            .join(SnapshotMember, SnapshotMember.image_id == Image.id)
            .where(SnapshotMember.snapshot_id == snapshot_id, SnapshotMember.split == "test")
        ).all()
    store = ContentStore(settings.data_dir)
    shown = [(sha, team[Path(name).name]) for sha, name in rows if name and Path(name).name in team]
    paths = [str(thumbnail_path(store, sha)) for sha, _ in shown]
    truth = np.array([names.index(mood) for _, mood in shown], dtype=np.int32)
    result: dict = {"snapshot": snapshot_id, "photographs": len(shown), "models": []}
    for entry in models:
        if entry.snapshot_id != snapshot_id:
            continue
        params = TrainParams(
            snapshot_id=snapshot_id,
            arch=entry.arch,
            image_size=entry.image_size,
            fine_tune_blocks=fine_tune.blocks_in(entry.report),
        )
        model = load_registered(settings, entry)
        predicted = _predict(model, paths, truth, params, settings)
        scores = evaluate(predicted, truth)  # as a run's test set is scored
        result["models"].append(
            {
                "model": entry.id,
                "arch": entry.arch,
                "active": entry.active,
                "test_accuracy": entry.test_accuracy,
                "exact": round(scores["accuracy"] * len(shown)),
                "exact_or_neighbour": round(scores["adjacent_accuracy"] * len(shown)),
                "predicted": dict(Counter(names[i] for i in predicted)),
            }
        )
    result["team_labels"] = dict(Counter(mood for _, mood in shown))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
