from moodlab.core.models import Image, ImageVote, Role, User
from moodlab.home import lab_overview
from moodlab.jobs.actions import start_check
from moodlab.votes import annotation
from tests.conftest import add_user


def overview(database, settings, actor):
    with database.session() as session:
        return lab_overview(session=session, settings=settings, actor=actor)


def test_counts_and_votes_per_mood_in_circle_order(database, settings, lead, annotator):
    with database.session() as session:
        images = [Image(sha256=f"{i:064x}", width=200, height=200) for i in range(3)]
        session.add_all(images)
        session.flush()
        session.add(ImageVote(image_id=images[0].id, annotator_id=annotator.id, mood="Tired"))
        session.add(ImageVote(image_id=images[1].id, annotator_id=annotator.id, mood="Happy"))
    seen = overview(database, settings, annotator)
    assert (seen.images, seen.votes, seen.my_votes, seen.images_waiting_for_me) == (3, 2, 2, 1)
    assert list(seen.votes_per_mood)[:2] == ["Happy", "Dynamic"]
    assert seen.votes_per_mood["Tired"] == 1 and seen.votes_per_mood["Angry"] == 0
    assert [s.text for s in seen.next_steps] == ["1 image waits for your vote."]


def test_the_lead_is_told_to_add_annotators_until_there_are_enough(database, settings, lead):
    steps = overview(database, settings, lead).next_steps
    assert steps[0].text == "Add 4 more annotators: each image needs 4 votes."
    assert steps[0].page == "users"
    for name in ("a1", "a2", "a3", "a4"):
        add_user(database, name, Role.ANNOTATOR)
    assert not any("annotator" in s.text for s in overview(database, settings, lead).next_steps)


def test_queued_jobs_without_a_worker_are_flagged(database, settings, lead):
    with database.session() as session:
        start_check(session=session, actor=lead, settings=settings)
    first = overview(database, settings, lead).next_steps[0]
    assert "1 job waits but no worker is running" in first.text


def test_the_lead_is_led_from_votes_to_a_snapshot_a_model_and_an_active_model(
    database, settings, lead, annotator
):
    from moodlab.core.models import Snapshot, TrainedModel

    def pages():
        return [s.page for s in overview(database, settings, lead).next_steps]

    with database.session() as session:
        image = Image(sha256=f"{1:064x}", width=200, height=200)
        session.add(image)
        session.flush()
        session.add(ImageVote(image_id=image.id, annotator_id=annotator.id, mood="Tired"))
    assert "datasets" in pages()
    with database.session() as session:
        session.add(Snapshot(rules={}, manifest_sha256="0" * 64, train_counts={}, test_counts={}))
    assert "training" in pages()
    with database.session() as session:
        session.add(TrainedModel(arch="plain", path="models/x.keras", cv_scores={}, report={}))
    assert any("Activate a model" in s.text for s in overview(database, settings, lead).next_steps)
    with database.session() as session:
        session.query(TrainedModel).update({"active": True})
    assert "training" not in pages()


def test_unvoted_tracks_lead_annotators_to_music_votes(database, settings, lead, annotator):
    from moodlab.core.models import Track

    with database.session() as session:
        session.add_all([Track(path=f"t{i}.wav", title=f"T{i}") for i in range(2)])
    steps = overview(database, settings, annotator).next_steps
    assert [(s.text, s.page) for s in steps] == [
        (
            "2 music tracks wait for your vote: videos only use tracks that 3 annotators agree on.",
            "music_votes",
        )
    ]
    lead_steps = overview(database, settings, lead).next_steps
    assert any(
        s.page == "music_votes" and "No music track is accepted" in s.text for s in lead_steps
    )


def test_a_chance_level_model_is_no_reason_to_rest(database, settings, lead):
    from moodlab.core.models import Snapshot, TrainedModel

    for name in ("a1", "a2", "a3", "a4"):
        add_user(database, name, Role.ANNOTATOR)
    with database.session() as session:
        session.add(Snapshot(rules={}, manifest_sha256="0" * 64, train_counts={}, test_counts={}))
        session.add(
            TrainedModel(
                arch="plain",
                path="m.keras",
                cv_scores={},
                report={},
                active=True,
                test_accuracy=0.10,
            )
        )
    with database.session() as session:
        session.add(Image(sha256=f"{1:064x}", width=200, height=200))
    steps = overview(database, settings, lead).next_steps
    assert [s.page for s in steps] == ["crawl", "annotate"]  # the lead has not voted on it
    assert "Model #1 scores 0.10, near chance (0.12)" in steps[0].text


def test_home_agreement_and_the_cli_count_votes_one_way_skips_apart(
    database, settings, env, lead, annotator
):
    import json

    from moodlab.votes.agreement import agreement_report
    from tests.conftest import run_cli

    with database.session() as session:
        images = [Image(sha256=f"{i:064x}", width=200, height=200) for i in range(3)]
        session.add_all(images)
        session.flush()
        for image, mood in zip(images, ("Tired", "Happy", None), strict=True):
            session.add(ImageVote(image_id=image.id, annotator_id=annotator.id, mood=mood))
    seen = overview(database, settings, annotator)
    assert (seen.votes, seen.skips, seen.my_votes, seen.my_skips) == (2, 1, 2, 1)
    with database.session() as session:
        report = agreement_report(session=session, actor=lead, settings=settings)
    assert (report["votes"], report["skips"]) == (2, 1)
    assert report["annotators"][annotator.name]["votes"] == 2
    status = json.loads(run_cli("status", "--json", env=env).stdout)
    assert (status["votes"], status["skips"]) == (2, 1)


def test_a_lead_is_told_of_the_images_waiting_for_them_and_who_has_how_many_left(
    database, settings, lead, annotator
):
    other = add_user(database, "otto", Role.ANNOTATOR)
    gone = add_user(database, "gone", Role.ANNOTATOR)
    with database.session() as session:
        session.get_one(User, gone.id).active = False
        images = [Image(sha256=f"{i:064x}", width=200, height=200) for i in range(3)]
        session.add_all(images)
        session.flush()
        session.add(ImageVote(image_id=images[0].id, annotator_id=annotator.id, mood="Tired"))
        session.add(ImageVote(image_id=images[1].id, annotator_id=annotator.id, mood="Happy"))
        session.add(ImageVote(image_id=images[2].id, annotator_id=lead.id, mood="Happy"))
        images[0].response_count, images[1].response_count, images[2].response_count = 1, 1, 1
    seen = overview(database, settings, lead)
    assert (seen.images_waiting_for_me, seen.images_left_by_person) == (
        2,
        {"anna": 1, "otto": 3, "lena": 2},  # annotators by name, then leads; active ones only
    )
    assert ("2 images wait for your vote.", "annotate") in [
        (s.text, s.page) for s in seen.next_steps
    ]
    assert not any("Nothing waits" in s.text for s in seen.next_steps)
    # an annotator sees their own count, not the others'
    assert overview(database, settings, other).images_left_by_person == {}


def test_the_lead_s_home_page_says_who_has_how_many_images_left(database, lead, annotator):
    from tests.test_pages import app, texts

    with database.session() as session:
        session.add_all([Image(sha256=f"{i:064x}", width=200, height=200) for i in range(2)])
    shown = texts(app(lead))
    assert "2 images wait for your vote." in shown
    assert "Images left to answer: anna 2 · lena 2" in shown
    assert "Images left to answer" not in texts(app(annotator))


def test_an_image_decided_early_no_longer_counts_as_pending(database, settings, lead):
    """Three agreeing votes decide the train tier: the 4th answer is never asked for."""
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(3)]
    with database.session() as session:
        images = [Image(sha256=f"{i:064x}", width=200, height=200) for i in range(2)]
        session.add_all(images)
        session.flush()
        ids = [image.id for image in images]
    for person in people:
        for image_id in ids:
            with database.session() as session:
                annotation.answer(session=session, actor=person, image_id=image_id, mood="Happy")
    assert overview(database, settings, lead).images_pending == 0
    with database.session() as session:  # 2-1: the 4th answer still decides train or test
        annotation.answer(session=session, actor=people[2], image_id=ids[0], mood="Tired")
    assert overview(database, settings, lead).images_pending == 1


def test_the_figures_are_counted_once_for_reruns_and_anew_after_each_change(
    database, settings, lead, annotator
):
    """Home keeps its vote counts by the votes' version (moodlab.home): a rerun with
    nothing new counts nothing again, and a vote, an undo or a new annotator shows at once."""
    from moodlab import home

    with database.session() as session:
        images = [Image(sha256=f"{i:064x}", width=200, height=200) for i in range(3)]
        session.add_all(images)
        session.flush()
        ids = [image.id for image in images]
    first = overview(database, settings, lead)
    misses = home._VOTE_FIGURES.misses
    assert overview(database, settings, lead).images_left_by_person == first.images_left_by_person
    assert home._VOTE_FIGURES.misses == misses, "a rerun with nothing new counted again"

    with database.session() as session:
        annotation.answer(session=session, actor=annotator, image_id=ids[0], mood="Tired")
    seen = overview(database, settings, lead)
    assert (seen.votes, seen.votes_per_mood["Tired"]) == (1, 1)
    assert seen.images_left_by_person == {"anna": 2, "lena": 3}
    assert overview(database, settings, annotator).images_waiting_for_me == 2

    with database.session() as session:
        annotation.undo(session=session, actor=annotator, settings=settings)
    assert overview(database, settings, lead).votes == 0

    add_user(database, "otto", Role.ANNOTATOR)
    assert overview(database, settings, lead).images_left_by_person == {
        "anna": 3,
        "otto": 3,
        "lena": 3,
    }

    people = [add_user(database, f"b{i}", Role.ANNOTATOR) for i in range(3)]
    for person in people:
        with database.session() as session:
            annotation.answer(session=session, actor=person, image_id=ids[1], mood="Happy")
    assert overview(database, settings, lead).images_pending == 2  # ids[1] decided early
