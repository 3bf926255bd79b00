"""Video choices that say what they did: the mode in words, and a form that keeps them."""

from __future__ import annotations

import pytest

from moodlab.core.errors import MoodlabError
from moodlab.video import scenes
from moodlab.video.request import VideoParams
from tests.test_pages import app
from tests.video_media import register_tiny_model


def test_the_mode_says_why_scenes_were_joined():
    # The case: a 12 s clip with four cuts, asked for a mood per scene.
    cuts = [2.5, 5.0, 7.5, 10.0]
    bounds = scenes.plan_segments(12.0, cuts)
    assert bounds == [(0.0, 12.0)]
    said = scenes.describe(12.0, cuts, bounds, segments=True)
    assert said.startswith("a mood per scene: 4 scene cuts found, 1 segment; 4 cuts were not")
    assert "at least 8 s" in said and said.endswith("(the whole video is 12.0 s)")
    long = scenes.plan_segments(30.0, [10.0, 20.0])
    assert scenes.describe(30.0, [10.0, 20.0], long, segments=True) == (
        "a mood per scene: 2 scene cuts found, 3 segments"
    )
    assert "no scene cut was found" in scenes.describe(9.0, [], [(0, 9.0)], segments=True)
    assert scenes.describe(9.0, [], [(0, 9.0)], segments=False).startswith("one mood")


def test_an_unknown_fit_is_refused(settings, tmp_path):
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    with pytest.raises(MoodlabError, match="unknown fit 'stretch'"):
        VideoParams(inputs=[str(photo)], fit="stretch").validate(settings)


def test_the_video_form_keeps_its_choices(database, settings, lead):
    register_tiny_model(database, settings)
    at = app(lead).switch_page("pages/video.py").run()
    assert not at.exception
    at.checkbox(key="video.segments").check().run()
    at.radio(key="video.fit").set_value("pad").run()
    at.number_input(key="video.seed").set_value(7).run()
    at.button[[b.label for b in at.button].index("Generate")].click().run()
    assert "no files were uploaded" in at.error[0].value  # refused; the choices stay
    assert at.checkbox(key="video.segments").value is True
    assert (at.radio(key="video.fit").value, at.number_input(key="video.seed").value) == ("pad", 7)
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/video.py").run()
    assert at.checkbox(key="video.segments").value is True
    assert at.radio(key="video.fit").value == "pad"
