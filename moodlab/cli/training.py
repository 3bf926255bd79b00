"""`moodlab train` and `moodlab models ...`: training runs and the model registry."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from moodlab.cli.common import (
    Report,
    Subcommands,
    actor,
    command,
    detachable,
    group,
    open_database,
    run_here,
)
from moodlab.core.errors import MoodlabError

if TYPE_CHECKING:
    from moodlab.core.models import TrainedModel

# Each command imports its services when it runs: a command imports only what it needs.


def register(sub: Subcommands) -> None:
    from moodlab.training.architectures import ARCHITECTURES
    from moodlab.training.runs import TrainParams

    train_ = command(
        sub,
        "train",
        "cross-validate and train a model on a dataset snapshot (as a job, run here)",
        train,
    )
    detachable(train_)
    default = TrainParams.default
    train_.add_argument("--dataset", type=int, required=True, metavar="ID")
    train_.add_argument("--arch", default=default("arch"), choices=list(ARCHITECTURES))
    train_.add_argument("--folds", type=int, default=default("folds"))
    train_.add_argument("--epochs", type=int, default=default("epochs"))
    train_.add_argument("--batch-size", type=int, default=default("batch_size"))
    train_.add_argument(
        "--image-size",
        type=int,
        help="default: the architecture's own (128, the paper's, for deep and plain; 224,"
        " the backbone's, for transfer)",
    )
    train_.add_argument("--seed", type=int, default=default("seed"))
    train_.add_argument(
        "--fine-tune-blocks",
        type=int,
        default=default("fine_tune_blocks"),
        metavar="N",
        help="transfer only: after the head, also train the backbone's last N of its 16"
        " blocks end to end on the images (slow on a CPU; 0, the default, keeps it frozen)",
    )
    train_.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=default("fine_tune_epochs"),
        metavar="E",
        help="passes over the images when fine-tuning (default %(default)s)",
    )

    models = group(sub, "models", "the model registry")
    command(models, "list", "every trained model", list_models)
    evaluate_ = command(models, "evaluate", "a model on a snapshot's test set", evaluate)
    evaluate_.add_argument("id", type=int)
    evaluate_.add_argument("--dataset", type=int, help="snapshot id (default: its own)")
    activate_ = command(models, "activate", "use this model for videos", activate)
    activate_.add_argument("id", type=int)
    activate_.add_argument(
        "--force", action="store_true", help="activate a model not clearly above chance"
    )


def train(args: argparse.Namespace) -> Report:
    from moodlab.training.actions import start_training
    from moodlab.training.architectures import IMAGE_SIZES
    from moodlab.training.runs import TrainParams

    params = TrainParams(
        snapshot_id=args.dataset,
        arch=args.arch,
        folds=args.folds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size or IMAGE_SIZES[args.arch],
        seed=args.seed,
        fine_tune_blocks=args.fine_tune_blocks,
        fine_tune_epochs=args.fine_tune_epochs,
    )
    report = run_here(start_training, params=params, detach=args.detach)
    report.pop("folds", None)
    if report.get("updates_warning"):
        print(f"moodlab: warning: {report['updates_warning']}", file=sys.stderr)
    return report


def model_row(model: TrainedModel) -> Report:
    from moodlab.training import registry

    above, note = registry.chance_check(model)
    return {
        "above_chance": above,
        "chance_note": note,
        "id": model.id,
        "arch": model.arch,
        "path": model.path,
        "active": model.active,
        "cv_mean": model.cv_mean,
        "test_accuracy": model.test_accuracy,
        "snapshot_id": model.snapshot_id,
        "precision": model.precision,
    }


def list_models(args: argparse.Namespace) -> Report:
    from moodlab.training import registry

    _, database = open_database()
    with database.session() as session:
        return {
            "models": [model_row(m) for m in registry.list_models(session=session, actor=actor())]
        }


def activate(args: argparse.Namespace) -> Report:
    from moodlab.training import registry

    _, database = open_database()
    with database.session() as session:
        try:
            model = registry.activate(
                session=session, actor=actor(), model_id=args.id, force=args.force
            )
        except registry.NearChance as exc:
            raise MoodlabError(f"{exc}: add --force to activate it anyway") from None
        return model_row(model)


def evaluate(args: argparse.Namespace) -> Report:
    from moodlab.training import registry

    settings, database = open_database()
    with database.session() as session:
        return registry.evaluate_model(
            session=session,
            actor=actor(),
            settings=settings,
            database=database,
            model_id=args.id,
            snapshot_id=args.dataset,
        )
