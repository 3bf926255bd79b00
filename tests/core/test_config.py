import re
from pathlib import Path

import pytest

from moodlab.core.config import Settings
from moodlab.core.errors import ConfigError


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
        ({"MOODLAB_JOB_STALE_SECONDS": "-1"}, "is not a positive number"),
        ({"MOODLAB_TRAIN_QUORUM": "2"}, "TEST_QUORUM < MOODLAB_TRAIN_QUORUM"),
        ({"MOODLAB_TRAIN_QUORUM": "5"}, "got test=2, train=5, annotators=4"),
        ({"MOODLAB_LOGIN_MAX_FAILURES": "0"}, "MOODLAB_LOGIN_MAX_FAILURES must be at least 1"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(environ, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(environ)
