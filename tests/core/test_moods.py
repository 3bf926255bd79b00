import pytest

from moodlab.core import moods

# docs/architecture.md's table ("The moods"): name, angle, valence, arousal, neighbours.
TABLE = [
    ("Happy", 20, 0.94, 0.34, {"Peaceful", "Dynamic"}),
    ("Dynamic", 65, 0.42, 0.91, {"Happy", "Angry"}),
    ("Angry", 105, -0.26, 0.97, {"Dynamic", "Anxiety"}),
    ("Anxiety", 150, -0.87, 0.50, {"Angry", "Withered"}),
    ("Withered", 195, -0.97, -0.26, {"Anxiety", "Depressed"}),
    ("Depressed", 235, -0.57, -0.82, {"Withered", "Tired"}),
    ("Tired", 275, 0.09, -1.00, {"Depressed", "Peaceful"}),
    ("Peaceful", 320, 0.77, -0.64, {"Tired", "Happy"}),
]


def test_circle_order_is_the_design_table():
    assert moods.names() == [row[0] for row in TABLE]


@pytest.mark.parametrize(("name", "angle", "valence", "arousal", "neighbours"), TABLE)
def test_geometry_and_neighbours(name, angle, valence, arousal, neighbours):
    mood = moods.get(name)
    assert mood.angle == angle
    assert mood.valence == pytest.approx(valence, abs=0.005)
    assert mood.arousal == pytest.approx(arousal, abs=0.005)
    assert {m.name for m in moods.neighbours(name)} == neighbours
    assert all(moods.circle_steps(name, other) == 1 for other in neighbours)


def test_keys_are_one_to_eight_in_order():
    assert [m.key for m in moods.all_moods()] == [str(i) for i in range(1, 9)]


def test_circle_steps_wrap_around_the_circle():
    assert moods.circle_steps("Happy", "Peaceful") == 1
    assert moods.circle_steps("Happy", "Withered") == 4
    assert moods.circle_steps("Happy", "Tired") == 2
    assert moods.circle_steps("Dynamic", "Dynamic") == 0
    for a in moods.names():
        for b in moods.names():
            assert moods.circle_steps(a, b) == moods.circle_steps(b, a) <= 4


def test_lookup_is_case_insensitive_and_unknown_moods_are_named():
    assert moods.get(" happy ").name == "Happy"
    with pytest.raises(moods.UnknownMood, match="'Joyful'.*Happy, Dynamic"):
        moods.get("Joyful")
