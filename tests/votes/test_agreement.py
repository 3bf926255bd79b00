"""Agreement statistics on hand-computed examples."""

from dataclasses import replace

import numpy as np
import pytest

from moodlab.core import moods
from moodlab.votes.agreement import circular_distance, compute, compute_arrays

M = moods.names()  # Happy, Dynamic, Angry, Anxiety, Withered, Depressed, Tired, Peaceful


def rows_from_table(table):
    """(image, annotator, mood) rows from per-image counts; annotator ids are made up."""
    rows = []
    for image, row in enumerate(table):
        rater = 0
        for mood, n in enumerate(row):
            for _ in range(n):
                rows.append((image, rater, M[mood]))
                rater += 1
    return rows


def test_fleiss_kappa_on_the_wikipedia_example(settings):
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories: 0.210.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    fourteen = replace(settings, annotators_per_item=14)
    report = compute(rows_from_table(table), {}, fourteen)
    assert report["fleiss_kappa"] == pytest.approx(0.210, abs=0.0005)


def test_krippendorff_alpha_on_the_packages_own_example(settings):
    nan = None
    data = [
        [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
        [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
        [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
    ]
    rows = [
        (unit, coder, M[value - 1])
        for coder, values in enumerate(data)
        for unit, value in enumerate(values)
        if value is not None
    ]
    assert compute(rows, {}, settings)["krippendorff_alpha"] == pytest.approx(0.691358, abs=1e-4)


def test_circular_alpha_forgives_neighbours_more_than_nominal_alpha(settings):
    # Worked by hand: units (Happy, Happy), (Happy, Dynamic),
    # (Withered, Withered). Nominal: 1 - (2/6) / (22/30) = 0.5455.
    # Circular, d = sin^2(angle/2): Do = (2/6) d(H,D) = 0.048816;
    # De = (2/30) (3*1*d(H,D) + 3*2*d(H,W) + 1*2*d(D,W)) = 0.538047; alpha = 0.909273.
    rows = [
        (1, 1, "Happy"),
        (1, 2, "Happy"),
        (2, 1, "Happy"),
        (2, 2, "Dynamic"),
        (3, 1, "Withered"),
        (3, 2, "Withered"),
    ]
    report = compute(rows, {}, settings)
    assert report["krippendorff_alpha"] == pytest.approx(0.545455, abs=1e-4)
    assert report["circular_alpha"] == pytest.approx(0.909273, abs=1e-4)


def test_circular_distance():
    assert circular_distance(np.array([20.0]), np.array([20.0]), None, None, None)[0] == 0
    assert circular_distance(np.array([20.0]), np.array([200.0]), None, None, None)[
        0
    ] == pytest.approx(1)
    assert circular_distance(np.array([20.0]), np.array([65.0]), None, None, None)[
        0
    ] == pytest.approx(np.sin(np.radians(22.5)) ** 2)


def test_tiers_per_mood_annotators_and_confusion(settings):
    names = {1: "anna", 2: "ben", 3: "cara", 4: "dev"}
    votes = {
        10: ["Happy", "Happy", "Happy", "Dynamic"],  # train Happy
        11: ["Tired", "Tired", "Peaceful", None],  # test Tired
        12: ["Angry", "Angry", "Anxiety", "Anxiety"],  # disputed
        13: ["Happy", "Tired", "Angry", "Withered"],  # no consensus
        14: ["Happy", "Happy"],  # pending
    }
    rows = [
        (image, a + 1, mood) for image, answers in votes.items() for a, mood in enumerate(answers)
    ]
    report = compute(rows, names, settings, unanswered_images=3)
    assert report["tiers"] == {
        "train": 1,
        "test": 1,
        "disputed": 1,
        "no_consensus": 1,
        "pending": 4,
    }
    assert report["per_mood"]["Happy"] == {"train": 1, "test": 0}
    assert report["per_mood"]["Tired"] == {"train": 0, "test": 1}
    anna = report["annotators"]["anna"]
    assert anna["votes"] == 5
    # anna against the others' unique majority: agrees on 10 and 14, disagrees on 12
    # (Angry vs Anxiety); 11 and 13 have no unique majority among the others.
    assert anna["agreement_with_majority"] == pytest.approx(2 / 3, abs=1e-4)
    dev = report["annotators"]["dev"]
    assert dev["votes"] == 3 and dev["skips"] == 1
    assert dev["agreement_with_majority"] == 0.0  # Dynamic vs Happy, Anxiety vs Angry
    # Dynamic sits above Happy on the circle: dev's image-10 vote is more aroused.
    assert report["annotators"]["dev"]["arousal_bias"] != 0
    confusion = np.array(report["confusion"]["counts"])
    assert (confusion == confusion.T).all()
    h, d = M.index("Happy"), M.index("Dynamic")
    # image 10: 3 Happy give 6 ordered Happy-Happy pairs, and 3 Happy-Dynamic; image 14: 2 more.
    assert confusion[h, h] == 8 and confusion[h, d] == 3
    assert report["annotator_matrix"]["anna"]["anna"] == 1.0


def test_nothing_to_compare_gives_nulls_not_errors(settings):
    report = compute([(1, 1, "Happy")], {1: "anna"}, settings)
    assert report["fleiss_kappa"] is None and report["krippendorff_alpha"] is None
    assert report["tiers"]["pending"] == 1


def random_votes(seed: int, images: int = 400, people: int = 8, per_image: int = 4):
    """Random answers: ``per_image`` of ``people`` on each image, about 1 in 10 a skip."""
    rng = np.random.default_rng(seed)
    image_ids, annotator_ids, mood_idx = [], [], []
    for image in range(images):
        base = rng.integers(8)
        for person in rng.choice(people, per_image, replace=False):
            image_ids.append(image * 3 + 7)  # ids with gaps, as a real table has
            annotator_ids.append(int(person) + 100)
            near = (base + rng.integers(-1, 2)) % 8
            mood_idx.append(-1 if rng.random() < 0.1 else int(base if rng.random() < 0.5 else near))
    return np.array(image_ids), np.array(annotator_ids), np.array(mood_idx)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_pairwise_kappas_equal_scikit_learns(seed, settings):
    from sklearn.metrics import cohen_kappa_score

    from moodlab.votes.arrays import VoteArrays
    from moodlab.votes.quorum import tally_indexes

    image_ids, annotator_ids, mood_idx = random_votes(seed)
    # One pair that always agrees, on one mood: scikit-learn's kappa is undefined there.
    image_ids = np.concatenate([image_ids, [5000, 5000, 5001, 5001]])
    annotator_ids = np.concatenate([annotator_ids, [900, 901, 900, 901]])
    mood_idx = np.concatenate([mood_idx, [3, 3, 3, 3]])
    votes = VoteArrays(image_ids, annotator_ids, mood_idx)
    names = {int(a): f"p{a}" for a in np.unique(annotator_ids)}
    matrix = compute_arrays(votes, names, settings)["annotator_matrix"]
    answered = tally_indexes(image_ids, mood_idx)
    by_person = {}
    for item, person, mood in zip(answered.item_of_answer, annotator_ids, mood_idx, strict=True):
        if mood >= 0:
            by_person.setdefault(int(person), {})[int(item)] = int(mood)
    checked = 0
    for a, mine in by_person.items():
        for b, theirs in by_person.items():
            shared = sorted(mine.keys() & theirs.keys())
            got = matrix[names[a]][names[b]]
            if a == b:
                assert got == 1.0
            elif len(shared) < 2:
                assert got is None
            elif all(mine[i] == theirs[i] for i in shared):
                assert got == 1.0
            else:
                x, y = [mine[i] for i in shared], [theirs[i] for i in shared]
                expected = cohen_kappa_score(x, y, labels=list(range(8)))
                assert got == pytest.approx(expected, abs=1e-4)
                checked += 1
    assert checked >= 50  # 8 people: 56 ordered pairs with shared images


@pytest.mark.parametrize("seed", [0, 1])
def test_alphas_equal_the_krippendorff_package(seed, settings):
    import krippendorff

    from moodlab.votes.arrays import VoteArrays
    from moodlab.votes.quorum import tally_indexes

    image_ids, annotator_ids, mood_idx = random_votes(seed, per_image=3)
    report = compute_arrays(VoteArrays(image_ids, annotator_ids, mood_idx), {}, settings)
    counts = tally_indexes(image_ids, mood_idx).counts
    counts = counts[counts.sum(axis=1) >= 2]
    domain = [m.angle for m in moods.all_moods()]
    for key, level in (("krippendorff_alpha", "nominal"), ("circular_alpha", circular_distance)):
        expected = krippendorff.alpha(
            value_counts=counts, value_domain=domain, level_of_measurement=level
        )
        assert report[key] == pytest.approx(expected, abs=1e-4)


def test_the_report_is_cached_until_a_vote_changes(database, settings, lead):
    from moodlab.core.models import Role
    from moodlab.images.intake import Intake, Provenance
    from moodlab.votes import agreement, annotation
    from tests import media
    from tests.conftest import add_user

    intake = Intake(settings, database)
    images = [intake.add_bytes(media.jpeg(900 + i), Provenance(source=f"t{i}")) for i in range(2)]
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(2)]

    def report():
        with database.session() as session:
            return agreement.agreement_report(session=session, actor=lead, settings=settings)

    def vote(person, image, mood):
        with database.session() as session:
            annotation.answer(session=session, actor=person, image_id=image, mood=mood)

    vote(people[0], images[0], "Happy")
    first = report()
    assert report() is first  # unchanged votes: the same object, not recomputed
    vote(people[1], images[0], "Happy")  # a new vote
    second = report()
    assert second is not first and second["votes"] == 2
    vote(people[1], images[0], "Tired")  # a changed vote: same count, same max id
    third = report()
    assert third is not second and third["per_mood"]["Happy"] == second["per_mood"]["Happy"]
    assert third["confusion"] != second["confusion"]


def test_the_page_report_skips_the_estimate_which_is_asked_for_on_its_own(
    database, settings, lead, monkeypatch
):
    """Issue 29: the Agreement page ran Dawid-Skene's EM over every vote after each new
    vote; it now asks for the estimate only while its section is open."""
    from moodlab.core.models import Role
    from moodlab.images.intake import Intake, Provenance
    from moodlab.votes import agreement, annotation
    from tests import media
    from tests.conftest import add_user

    intake = Intake(settings, database)
    images = [intake.add_bytes(media.jpeg(700 + i), Provenance(source=f"t{i}")) for i in range(2)]
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(3)]
    for person, mood in zip(people, ["Happy", "Happy", "Tired"], strict=True):
        with database.session() as session:
            annotation.answer(session=session, actor=person, image_id=images[0], mood=mood)
    runs = []
    real = agreement.em.from_votes
    monkeypatch.setattr(agreement.em, "from_votes", lambda *a: runs.append(1) or real(*a))
    with database.session() as session:
        page = agreement.agreement_report(
            session=session, actor=lead, settings=settings, dawid_skene=False
        )
    assert "dawid_skene" not in page and runs == []
    with database.session() as session:
        full = agreement.agreement_report(session=session, actor=lead, settings=settings)
        estimate = agreement.dawid_skene_estimate(session=session, actor=lead)
        assert agreement.dawid_skene_estimate(session=session, actor=lead) is estimate  # kept
    assert estimate == full["dawid_skene"] and len(runs) == 2
    assert {k: v for k, v in full.items() if k != "dawid_skene"} == page
