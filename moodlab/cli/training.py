"""`moodlab train` and `moodlab models ...`: training runs and the model registry."""

from __future__ import annotations

import argparse

from moodlab.cli.common import Report, Subcommands, actor, command, group, open_database, run_here
from moodlab.core.models import TrainedModel
from moodlab.training import registry
from moodlab.training.actions import start_training
from moodlab.training.architectures import ARCHITECTURES
from moodlab.training.runs import TrainParams


def register(sub: Subcommands) -> None:
    train_ = command(
        sub, "train", "cross-validate and train a model on a dataset snapshot (as a job, run here)",
        train,
    )  # fmt: skip
    default = TrainParams.default
    train_.add_argument("--dataset", type=int, required=True, metavar="ID")
    train_.add_argument("--arch", default=default("arch"), choices=list(ARCHITECTURES))
    train_.add_argument("--folds", type=int, default=default("folds"))
    train_.add_argument("--epochs", type=int, default=default("epochs"))
    train_.add_argument("--batch-size", type=int, default=default("batch_size"))
    train_.add_argument("--image-size", type=int, default=default("image_size"))
    train_.add_argument("--seed", type=int, default=default("seed"))

    models = group(sub, "models", "the model registry")
    command(models, "list", "every trained model", list_models)
    evaluate_ = command(models, "evaluate", "a model on a snapshot's test set", evaluate)
    evaluate_.add_argument("id", type=int)
    evaluate_.add_argument("--dataset", type=int, help="snapshot id (default: its own)")
    command(models, "activate", "use this model for videos", activate).add_argument("id", type=int)


def train(args: argparse.Namespace) -> Report:
    params = TrainParams(
        snapshot_id=args.dataset, arch=args.arch, folds=args.folds, epochs=args.epochs,
        batch_size=args.batch_size, image_size=args.image_size, seed=args.seed,
    )  # fmt: skip
    report = run_here(start_training, params=params)
    report.pop("folds", None)
    return report


def model_row(model: TrainedModel) -> Report:
    return {
        "id": model.id, "arch": model.arch, "path": model.path, "active": model.active,
        "cv_mean": model.cv_mean, "test_accuracy": model.test_accuracy,
        "snapshot_id": model.snapshot_id, "precision": model.precision,
    }  # fmt: skip


def list_models(args: argparse.Namespace) -> Report:
    _, database = open_database()
    with database.session() as session:
        return {
            "models": [model_row(m) for m in registry.list_models(session=session, actor=actor())]
        }


def activate(args: argparse.Namespace) -> Report:
    _, database = open_database()
    with database.session() as session:
        return model_row(registry.activate(session=session, actor=actor(), model_id=args.id))


def evaluate(args: argparse.Namespace) -> Report:
    settings, database = open_database()
    with database.session() as session:
        return registry.evaluate_model(
            session=session, actor=actor(), settings=settings, database=database,
            model_id=args.id, snapshot_id=args.dataset,
        )  # fmt: skip
