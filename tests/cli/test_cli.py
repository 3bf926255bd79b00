"""The `moodlab` command as a user runs it: a child process, stdin, stdout, stderr."""

import json

import pytest

from moodlab.core.migrations import head_revision
from tests.conftest import PASSWORD, run_cli, run_program


@pytest.fixture
def migrated(env):
    result = run_cli("migrate", "--json")
    assert result.returncode == 0, result.stderr
    return env


def test_migrate_reports_the_revision_as_json(env):
    result = run_cli("migrate", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["revision"] == head_revision()
    assert report["database"] == env["MOODLAB_DATABASE_URL"]


def test_users_add_reads_the_password_from_stdin(migrated):
    added = run_cli("users", "add", "lena", "--role", "lead", "--json", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"id": 1, "name": "lena", "role": "lead", "active": True}
    listed = json.loads(run_cli("users", "list", "--json").stdout)
    assert [u["name"] for u in listed["users"]] == ["lena"]


def test_the_password_is_never_an_argument(migrated):
    result = run_cli("users", "add", "lena", "--role", "lead", "--password", PASSWORD)
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("users", "add", "lena", "--role", "lead"), "short\n", "the password is too short"),
        (("users", "add", "lena", "--role", "lead"), "", "no password on stdin"),
        (("users", "add", "lena", "--role", "boss"), PASSWORD, "invalid choice: 'boss'"),
        (("users", "deactivate", "nobody"), "", "no user called 'nobody'"),
        (("jobs", "show", "42"), "", "no job with id 42"),
        (("jobs", "cancel", "x"), "", "invalid int value: 'x'"),
    ],
)
def test_bad_input_gets_one_line_on_stderr_and_a_nonzero_exit(migrated, args, stdin, message):
    result = run_cli(*args, stdin=stdin)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_an_unmigrated_database_says_what_to_do(env):
    result = run_cli("users", "list")
    assert result.returncode == 1
    assert "is not up to date: run `moodlab migrate`" in result.stderr


def test_a_bad_setting_is_named(env):
    result = run_cli("migrate", env={"MOODLAB_TRAIN_QUORUM": "lots"})
    assert result.returncode == 1
    assert result.stderr.strip() == "moodlab: error: MOODLAB_TRAIN_QUORUM='lots' is not an integer"


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_jobs_round_trip_through_the_worker(migrated, warm):
    queued = json.loads(run_cli("jobs", "check-worker", "--json").stdout)
    assert queued["status"] == "queued"
    # --warm imports TensorFlow beside the jobs; --once waits for that import to end
    assert run_program("worker", "--once", *["--warm"] * warm).returncode == 0
    shown = json.loads(run_cli("jobs", "show", str(queued["id"]), "--json").stdout)
    assert shown["status"] == "succeeded"
    assert shown["result"]["packages"]["streamlit"]
    listed = json.loads(run_cli("jobs", "list", "--status", "succeeded", "--json").stdout)
    assert [j["id"] for j in listed["jobs"]] == [queued["id"]]


def test_users_can_be_deactivated_and_reactivated(migrated):
    run_cli("users", "add", "lena", "--role", "lead", stdin=PASSWORD)
    run_cli("users", "add", "anna", "--role", "annotator", stdin=PASSWORD)
    off = json.loads(run_cli("users", "deactivate", "anna", "--json").stdout)
    assert off["active"] is False
    on = json.loads(run_cli("users", "activate", "anna", "--json").stdout)
    assert on["active"] is True


def test_python_dash_m_and_help_list_the_settings(env):
    result = run_cli("--help")
    assert result.returncode == 0
    assert "MOODLAB_DATABASE_URL" in result.stdout and "users" in result.stdout


def test_serve_starts_streamlit_without_calls_to_the_internet():
    from moodlab.cli.serve import streamlit_command

    command = " ".join(streamlit_command(8501, "127.0.0.1"))
    assert "--browser.gatherUsageStats false" in command  # no usage statistics
    assert "--logger.hideWelcomeMessage true" in command  # no public-IP lookup
    assert "--server.headless true" in command


def test_render_prints_nested_reports_of_any_shape():
    from moodlab.cli.main import render

    text = render(
        {
            "stored": 3,
            "ids": [1, 2, 3],
            "rows": [{"line": 2, "reason": "unknown mood"}, {"line": 5, "reason": None}],
            "pairs": [[1, 2], (3, 4.56789)],
            "tiers": {"train": 2, "per_mood": {"Happy": [1, 2], "Sad": {}}, "none": None},
            "mixed": [1, "two", None, {"three": [3]}, [{"four": 4}]],
            "empty": [],
            "nothing": None,
        }
    )
    lines = text.splitlines()
    assert lines[:5] == ["stored: 3", "ids:", "  1", "  2", "  3"]
    assert "  line=2  reason=unknown mood" in lines and "  line=5  reason=-" in lines
    assert "  1 2" in lines and "  3 4.568" in lines
    assert "  per_mood:" in lines and "    Happy:" in lines and "    Sad: {}" in lines
    assert "  none: -" in lines and "empty: []" in lines and lines[-1] == "nothing: -"
    assert "  three=[3]" in lines and '  {"four": 4}' in lines


def test_every_command_works_with_and_without_json(env, database, lead, tmp_path, capsys):
    """Each command prints a report for a person, and one JSON object with --json.

    In this process (`moodlab.cli.main.main`, what `python -m moodlab` runs) rather
    than a child process per command: 48 runs of the command cost over a minute and
    a half of start-up alone. The tests above run the command as a child process.
    """
    from moodlab.cli.main import main
    from moodlab.core.models import Role
    from tests import media
    from tests.conftest import add_user
    from tests.fixture_site import Site

    for i in range(1, 5):
        add_user(database, f"a{i}", Role.ANNOTATOR)
    folder = tmp_path / "pictures"
    folder.mkdir()
    for seed in range(1, 5):
        (folder / f"{seed}.jpg").write_bytes(media.jpeg(3000 + seed))
    site = Site().start()
    site.page("/", '<img src="/a.jpg"> <img src="/b.png">')
    site.add("/a.jpg", media.jpeg(3100), "image/jpeg")
    site.add("/b.png", media.png(3101), "image/png")

    def both_ways(*args: str) -> dict:
        """Run ``args`` without and then with --json; the JSON report."""
        assert main(list(args)) == 0, f"{args}: {capsys.readouterr().err}"
        assert capsys.readouterr().out.strip(), f"{args} printed nothing"
        assert main([*args, "--json"]) == 0, f"{args} --json: {capsys.readouterr().err}"
        return json.loads(capsys.readouterr().out)

    try:
        both_ways("migrate")
        both_ways("users", "list")
        both_ways("import", str(folder))
        both_ways("crawl", site.url("/"), "--allow-private", "--depth", "0")
    finally:
        site.stop()
    shas = [image["sha256"] for image in both_ways("images", "list")["images"]]
    assert len(shas) == 6
    answers = {
        shas[0]: ("Happy", "Happy", "Happy", "Tired"),  # train tier
        shas[1]: ("Happy", "Happy", "Happy", "Tired"),
        shas[2]: ("Peaceful", "Peaceful", "Happy", "Angry"),  # test tier
        shas[3]: ("Angry", "Angry", "Anxiety", "Anxiety"),  # a 2-2 tie
        shas[4]: ("Tired", "skip"),
    }
    votes = tmp_path / "votes.csv"
    votes.write_text(
        "image,annotator,mood\n"
        + "".join(
            f"{sha},a{n},{mood}\n"
            for sha, moods in answers.items()
            for n, mood in enumerate(moods, 1)
        )
    )
    assert both_ways("votes", "import", str(votes))["unchanged"] == 18
    assert both_ways("votes", "export", str(tmp_path / "export.csv"))["exported"] == 18
    both_ways("agreement")
    both_ways("status")
    snapshot = both_ways("dataset", "build")["id"]
    both_ways("dataset", "list")
    assert both_ways("dataset", "disputed")["disputed"]
    both_ways("dataset", "export", str(snapshot), str(tmp_path / "snapshot.zip"))
    both_ways("models", "list")
    both_ways("music", "list")
    both_ways("video", "list")
    job = both_ways("jobs", "check-worker")["id"]
    both_ways("jobs", "list")
    both_ways("jobs", "show", str(job))
