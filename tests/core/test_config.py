import re
from dataclasses import fields
from pathlib import Path

import pytest

from moodlab.core.config import Settings, allowed_range
from moodlab.core.errors import ConfigError
from tests.conftest import run_cli, run_program


def test_defaults_are_the_embedded_ones():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///db/moodlab.sqlite"
    assert settings.data_dir == Path("data")
    assert settings.music_dir == Path("music")
    assert (settings.annotators_per_item, settings.train_quorum, settings.test_quorum) == (4, 3, 2)


def test_environment_overrides_each_setting():
    settings = Settings.from_env(
        {
            "MOODLAB_DATABASE_URL": "postgresql+psycopg://lab@db/moodlab",
            "MOODLAB_DATA_DIR": "/srv/moodlab/data",
            "MOODLAB_ANNOTATORS_PER_ITEM": "5",
            "MOODLAB_TRAIN_QUORUM": "4",
            "MOODLAB_JOB_STALE_SECONDS": "90",
        }
    )
    assert settings.database_url.startswith("postgresql")
    assert settings.data_dir == Path("/srv/moodlab/data")
    assert settings.annotators_per_item == 5
    assert settings.train_quorum == 4
    assert settings.job_stale_seconds == 90.0


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MOODLAB_TRAIN_QUORUM": "three"}, "MOODLAB_TRAIN_QUORUM='three' is not an integer"),
        ({"MOODLAB_JOB_STALE_SECONDS": "-1"}, "MOODLAB_JOB_STALE_SECONDS=-1 is out of range"),
        ({"MOODLAB_CRAWL_DELAY_SECONDS": "nan"}, "MOODLAB_CRAWL_DELAY_SECONDS='nan' is not a"),
        ({"MOODLAB_VIDEO_SAMPLE_FPS": "inf"}, "MOODLAB_VIDEO_SAMPLE_FPS='inf' is not a number"),
        ({"MOODLAB_TRAIN_QUORUM": "2"}, "TEST_QUORUM < MOODLAB_TRAIN_QUORUM"),
        ({"MOODLAB_TRAIN_QUORUM": "5"}, "got test=2, train=5, annotators=4"),
        ({"MOODLAB_LOGIN_MAX_FAILURES": "0"}, "MOODLAB_LOGIN_MAX_FAILURES=0 is out of range"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(environ, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(environ)


# Every setting that is a number, with the range it declares beside its default.
NUMBERS = [f for f in fields(Settings) if isinstance(f.default, int | float)]


def test_every_number_setting_declares_its_range_and_its_default_is_within_it():
    assert len(NUMBERS) >= 25
    for f in NUMBERS:
        low, high = f.metadata["minimum"], f.metadata["maximum"]
        assert low is not None and high is not None, f.metadata["env"]
        assert low <= f.default <= high, f.metadata["env"]
    Settings.from_env({})  # the defaults all pass, together too


def _beyond(f, bound: float, step: int) -> str:
    """A value just past ``bound`` (``step`` -1: below it, 1: above it), as typed."""
    if isinstance(f.default, int):
        return str(bound + step)
    return f"{bound + step * max(abs(bound) / 2, 0.01):g}"


@pytest.mark.parametrize("f", NUMBERS, ids=lambda f: f.metadata["env"])
def test_a_value_below_a_settings_minimum_is_refused_naming_it_the_value_and_its_range(f):
    env, low = f.metadata["env"], f.metadata["minimum"]
    below = _beyond(f, low, -1)
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({env: below})
    assert str(refused.value) == f"{env}={below} is out of range: allowed {allowed_range(f)}"
    Settings.from_env({env: str(low)} | _partners(f, low))  # the minimum itself is allowed


@pytest.mark.parametrize("f", NUMBERS, ids=lambda f: f.metadata["env"])
def test_a_value_above_a_settings_maximum_is_refused_naming_it(f):
    env, high = f.metadata["env"], f.metadata["maximum"]
    above = _beyond(f, high, 1)
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({env: above})
    assert str(refused.value) == f"{env}={above} is out of range: allowed {allowed_range(f)}"
    Settings.from_env({env: str(high)} | _partners(f, high))  # the maximum itself is allowed


def _partners(f, value) -> dict[str, str]:
    """The other settings that must move with ``f`` set to ``value`` for the rules that
    join settings (test < train <= annotators, min < max seconds, heartbeat < stale)."""
    env = f.metadata["env"]
    joined = {
        "MOODLAB_ANNOTATORS_PER_ITEM": {"MOODLAB_TRAIN_QUORUM": "2", "MOODLAB_TEST_QUORUM": "1"},
        "MOODLAB_TRAIN_QUORUM": {
            "MOODLAB_ANNOTATORS_PER_ITEM": str(max(2, int(value))),
            "MOODLAB_TEST_QUORUM": "1",
        },
        "MOODLAB_TEST_QUORUM": {
            "MOODLAB_TRAIN_QUORUM": str(int(value) + 1),
            "MOODLAB_ANNOTATORS_PER_ITEM": str(int(value) + 1),
        },
        "MOODLAB_MUSIC_MIN_SECONDS": {"MOODLAB_MUSIC_MAX_SECONDS": str(float(value) + 1)},
        "MOODLAB_MUSIC_MAX_SECONDS": {"MOODLAB_MUSIC_MIN_SECONDS": "1"},
        "MOODLAB_JOB_HEARTBEAT_SECONDS": {"MOODLAB_JOB_STALE_SECONDS": str(float(value) + 1)},
        "MOODLAB_JOB_STALE_SECONDS": {"MOODLAB_JOB_HEARTBEAT_SECONDS": "0.05"},
    }
    return joined.get(env, {})


OUT_OF_RANGE = "MOODLAB_NEAR_DUPLICATE_DISTANCE=-3 is out of range: allowed 0 to 64"


def test_migrate_refuses_a_setting_out_of_range_in_one_line(env):
    refused = run_cli("migrate", env={**env, "MOODLAB_NEAR_DUPLICATE_DISTANCE": "-3"})
    assert refused.returncode == 1
    assert refused.stderr == f"moodlab: error: {OUT_OF_RANGE}\n"


def test_serve_refuses_a_setting_out_of_range_in_one_line_and_starts_nothing(env):
    # A child process with a timeout: a serve that started would not come back.
    refused = run_program(
        "serve", "--port", "0", env={**env, "MOODLAB_MUSIC_SEED": "-1"}, timeout=30
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "moodlab: error: MOODLAB_MUSIC_SEED=-1 is out of range: allowed 0 to 2,147,483,647"
    ]


def test_the_web_app_shows_a_setting_out_of_range(env, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    monkeypatch.setenv("MOODLAB_NEAR_DUPLICATE_DISTANCE", "-3")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    shown = [error.value.replace("\\", "") for error in at.error]
    assert shown == [f"moodlab cannot start with its settings: {OUT_OF_RANGE}"]
