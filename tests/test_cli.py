"""The `moodlab` command as a user runs it: a child process, stdin, stdout, stderr."""

import json

import pytest

from moodlab.core.migrations import head_revision
from tests.conftest import PASSWORD, run_cli


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


def test_jobs_round_trip_through_the_worker(migrated):
    queued = json.loads(run_cli("jobs", "check-worker", "--json").stdout)
    assert queued["status"] == "queued"
    assert run_cli("worker", "--once").returncode == 0
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
