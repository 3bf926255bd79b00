import math

import pytest

from moodlab.core import moods

# DESIGN.md's table: name, angle, valence, arousal, neighbours.
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
    assert all(moods.are_neighbours(name, other) for other in neighbours)


def test_keys_are_one_to_eight_in_order():
    assert [m.key for m in moods.all_moods()] == [str(i) for i in range(1, 9)]


def test_angular_distance_wraps_around_the_circle():
    assert moods.angular_distance("Happy", "Peaceful") == 60
    assert moods.angular_distance("Peaceful", "Happy") == 60
    assert moods.angular_distance("Happy", "Withered") == 175
    assert moods.angular_distance("Dynamic", "Dynamic") == 0
    assert moods.circle_steps("Happy", "Withered") == 4
    assert moods.circle_steps("Happy", "Tired") == 2


def test_every_distance_is_symmetric_and_at_most_half_a_circle():
    for a in moods.names():
        for b in moods.names():
            d = moods.angular_distance(a, b)
            assert d == moods.angular_distance(b, a)
            assert 0 <= d <= 180
            unit = [moods.get(a).valence, moods.get(a).arousal]
            other = [moods.get(b).valence, moods.get(b).arousal]
            dot = max(-1.0, min(1.0, sum(x * y for x, y in zip(unit, other, strict=True))))
            assert d == pytest.approx(math.degrees(math.acos(dot)), abs=1e-6)


def test_lookup_is_case_insensitive_and_unknown_moods_are_named():
    assert moods.get(" happy ").name == "Happy"
    with pytest.raises(moods.UnknownMood, match="'Joyful'.*Happy, Dynamic"):
        moods.get("Joyful")
