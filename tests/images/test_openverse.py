"""Openverse sourcing against a local stub that follows the documented response shape."""

import json
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from moodlab.core.errors import MoodlabError
from moodlab.core.models import Image
from moodlab.images.openverse import source
from tests import media
from tests.conftest import run_cli
from tests.fixture_site import Site


def hit(site: Site, n: int, **fields) -> dict:
    return {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "title": f"Calm lake {n}",
        "foreign_landing_url": f"https://www.flickr.com/photos/someone/{n}",
        "url": site.url(f"/full/{n}.jpg"),
        "creator": "someone",
        "creator_url": "https://www.flickr.com/photos/someone",
        "license": "by",
        "license_version": "2.0",
        "license_url": "https://creativecommons.org/licenses/by/2.0/",
        "provider": "flickr",
        "source": "flickr",
        "filetype": "jpg",
        "width": 256,
        "height": 192,
        "attribution": f'"Calm lake {n}" by someone is licensed under CC BY 2.0.',
        "thumbnail": site.url(f"/v1/images/{n}/thumb/"),
        "mature": False,
        **fields,
    }


@pytest.fixture
def stub():
    site = Site().start()
    pages = {
        1: [hit(site, 1), hit(site, 2), hit(site, 3, license="cc0", license_version="1.0")],
        2: [hit(site, 4), hit(site, 5, url=site.url("/full/1-copy.jpg"))],  # the same bytes
    }
    for n in range(1, 5):
        site.add(f"/full/{n}.jpg", media.jpeg(300 + n), "image/jpeg")
    site.add("/full/1-copy.jpg", media.jpeg(301), "image/jpeg")
    for page, results in pages.items():
        body = {
            "result_count": 5,
            "page_count": 2,
            "page_size": 20,
            "page": page,
            "results": results,
        }
        site.add(
            f"/v1/images/?q=lake&page={page}&page_size=20", json.dumps(body), "application/json"
        )
    yield site
    site.stop()


def test_hits_are_stored_with_licence_and_attribution(settings, database, stub):
    settings = replace(settings, openverse_url=stub.url("/v1/images/"), crawl_delay_seconds=0.01)
    report = source(settings, database, query="lake", max_images=10, allow_private=True)
    assert (report.stored, report.duplicates, report.extra["hits"]) == (4, 1, 5)
    with database.session() as session:
        images = {i.alt_text: i for i in session.scalars(select(Image))}
    assert images["Calm lake 1"].license == "BY 2.0"
    assert images["Calm lake 3"].license == "CC0 1.0"
    assert (
        images["Calm lake 1"].attribution == '"Calm lake 1" by someone is licensed under CC BY 2.0.'
    )
    assert images["Calm lake 1"].page_url == "https://www.flickr.com/photos/someone/1"
    asked = [parse_qs(urlsplit(path).query) for path, _ in stub.requests if path.startswith("/v1/")]
    assert [q["page"] for q in asked] == [["1"], ["2"]]


def test_it_is_off_unless_configured(settings, database):
    with pytest.raises(MoodlabError, match="Openverse sourcing is off: set MOODLAB_OPENVERSE_URL"):
        source(settings, database, query="lake", max_images=5)


def test_a_stub_that_breaks_the_shape_is_named(settings, database, stub):
    stub.add("/v1/images/?q=broken&page=1&page_size=20", "{}", "application/json")
    settings = replace(settings, openverse_url=stub.url("/v1/images/"))
    with pytest.raises(MoodlabError, match="not the documented JSON"):
        source(settings, database, query="broken", max_images=5, allow_private=True)


def test_openverse_command(env, stub):
    assert run_cli("migrate").returncode == 0
    off = run_cli("openverse", "lake")
    assert off.returncode == 1 and "Openverse sourcing is off" in off.stderr
    on = {"MOODLAB_OPENVERSE_URL": stub.url("/v1/images/"), "MOODLAB_CRAWL_DELAY_SECONDS": "0.01"}
    result = run_cli("openverse", "lake", "--max-images", "2", "--allow-private", "--json", env=on)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stored"] == 2
