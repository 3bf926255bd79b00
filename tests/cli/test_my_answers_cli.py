"""`moodlab votes mine|change|withdraw|undo` and `moodlab guidelines show|publish`."""

from __future__ import annotations

import json

from sqlalchemy import select

from moodlab.core.models import AnswerChange, ImageVote
from tests.conftest import run_cli
from tests.votes.test_annotation import add_images, vote


def cli_json(env, *args):
    result = run_cli(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_votes_mine_lists_an_annotators_answers_and_changes_them_on_record(
    database, env, annotator
):
    ids = add_images(database, 2)
    vote(database, annotator, ids[0], "Happy")
    vote(database, annotator, ids[1], "skip")
    listed = cli_json(env, "votes", "mine", "--annotator", annotator.name)
    assert listed["total"] == 2
    assert [(a["image_id"], a["mood"]) for a in listed["answers"]] == [
        (ids[1], "skip"),
        (ids[0], "Happy"),
    ]
    changed = cli_json(env, "votes", "change", str(ids[0]), "Tired", "--annotator", annotator.name)
    assert (changed["before"], changed["after"]) == ("Happy", "Tired")
    cli_json(env, "votes", "withdraw", str(ids[1]), "--annotator", annotator.name)
    assert cli_json(env, "votes", "undo", "--annotator", annotator.name)["image_id"] == ids[1]
    with database.session() as session:
        moods = dict(session.execute(select(ImageVote.image_id, ImageVote.mood)).all())
        actions = list(session.scalars(select(AnswerChange.action).order_by(AnswerChange.id)))
    assert moods == {ids[0]: "Tired", ids[1]: None}
    assert actions == ["answer", "answer", "change", "withdraw", "undo"]
    refused = run_cli("votes", "change", "999", "Happy", "--annotator", annotator.name, env=env)
    assert refused.returncode != 0 and "no image with id 999" in refused.stderr


def test_guidelines_publish_from_a_file_and_show(database, env, tmp_path):
    shown = cli_json(env, "guidelines", "show")
    assert shown["version"] == 1 and len(shown["moods"]) == 8
    lines = [f'intro = """{shown["intro"]}"""']
    for name, guide in shown["moods"].items():
        definition = "Sleepy or dull, not sad." if name == "Tired" else guide["definition"]
        lines += [f"[{name}]", f"definition = {json.dumps(definition)}"]
        lines += [f"text = {json.dumps(guide['text'])}"]
    path = tmp_path / "guidelines.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    published = cli_json(env, "guidelines", "publish", str(path), "--note", "Tired")
    assert published["version"] == 2
    again = cli_json(env, "guidelines", "show")
    assert again["moods"]["Tired"]["definition"] == "Sleepy or dull, not sad."
    assert [(v["version"], v["changed"]) for v in again["versions"]] == [
        (2, ["Tired"]),
        (1, []),
    ]
    same = run_cli("guidelines", "publish", str(path), env=env)
    assert same.returncode != 0 and "nothing changed: version 2" in same.stderr
    path.write_text("intro = \n", encoding="utf-8")
    broken = run_cli("guidelines", "publish", str(path), env=env)
    assert broken.returncode != 0 and "cannot read the guidelines" in broken.stderr
