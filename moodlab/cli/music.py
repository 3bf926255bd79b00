"""`moodlab music ...`: the track library."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

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

# Each command imports its services when it runs: a command imports only what it needs.


def register(sub: Subcommands) -> None:
    music = group(sub, "music", "the track library")
    command(music, "list", "every track with its mood, status and votes", list_tracks)
    import_ = command(music, "import", "add a licensed track as a candidate", import_track)
    import_.add_argument("file", metavar="FILE", help="mp3, m4a, ogg, opus, wav or flac")
    import_.add_argument("--mood", help="the mood it is meant for")
    import_.add_argument("--title", help="default: the file name")
    import_.add_argument("--license", help="e.g. CC-BY-4.0")
    import_.add_argument("--attribution", help="who made it, and where it came from")
    generate_ = command(
        music, "generate", "synthesise the missing default tracks (as a job, run here)", generate
    )
    detachable(generate_)
    generate_.add_argument("--seed", type=int, help="library seed (MOODLAB_MUSIC_SEED)")


def list_tracks(args: argparse.Namespace) -> Report:
    from moodlab.music import library

    settings, database = open_database()
    with database.session() as session:
        votes = library.visible_votes(session=session, actor=actor())
        return {
            "tracks": [
                library.track_row(t, settings, votes.get(t.id))
                for t in library.list_tracks(session=session)
            ]
        }


def import_track(args: argparse.Namespace) -> Report:
    from moodlab.music import library

    source = Path(args.file).expanduser()
    if not source.is_file():
        raise MoodlabError(f"{args.file} does not exist or is not a file")
    settings, database = open_database()
    with database.session() as session:
        track = library.import_track(
            session=session,
            actor=actor(),
            settings=settings,
            source=source,
            mood=args.mood,
            title=args.title,
            license=args.license,
            attribution=args.attribution,
        )
        return library.track_row(track, settings)


def generate(args: argparse.Namespace) -> Report:
    from moodlab.music.actions import start_generate
    from moodlab.music.library import GenerateParams

    started = time.monotonic()
    report = run_here(start_generate, params=GenerateParams(seed=args.seed), detach=args.detach)
    return report | {"seconds": round(time.monotonic() - started, 1)}
