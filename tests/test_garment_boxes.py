"""One box per garment (garment_boxes.py)."""

from fashionlens.core.records import Box, Detection
from fashionlens.inference.garment_boxes import one_box_per_garment

TOP, TROUSERS = Box(40, 40, 120, 140), Box(45, 135, 115, 300)


def test_two_overlapping_detections_of_one_garment_become_one_across_regions():
    upper = Detection(TOP, "upper", 0.9)
    again = Detection(Box(42, 38, 122, 150), "full", 0.7)  # the same top read as a full-body garment
    apart = Detection(TROUSERS, "lower", 0.8)
    assert one_box_per_garment([again, apart, upper]) == [upper, apart]


def test_a_full_body_box_over_an_upper_and_lower_pair_is_resolved_to_one_explanation():
    upper, lower = Detection(TOP, "upper", 0.8), Detection(TROUSERS, "lower", 0.7)
    dress = Detection(Box(40, 40, 118, 295), "full", 0.9)  # the same outfit as a dress
    assert one_box_per_garment([upper, lower, dress]) == [dress]  # the dress scores above the pair's 0.75
    weaker = Detection(dress.box, "full", 0.72)
    assert one_box_per_garment([upper, lower, weaker]) == [upper, lower]


def test_a_coat_over_a_top_and_trousers_keeps_all_three():
    coat = Detection(Box(30, 35, 130, 200), "full", 0.9)  # to the knee: the trousers reach past its hem
    upper, lower = Detection(Box(55, 45, 105, 120), "upper", 0.8), Detection(TROUSERS, "lower", 0.85)
    assert one_box_per_garment([upper, lower, coat]) == [coat, lower, upper]


def test_a_part_boxed_inside_its_garment_goes_but_not_a_garment_of_another_region():
    jacket = Detection(Box(40, 40, 140, 160), "upper", 0.9)
    collar = Detection(Box(70, 42, 110, 70), "upper", 0.6)  # entirely inside the jacket's box
    belt_line = Detection(Box(60, 140, 120, 158), "lower", 0.5)  # inside it too, but another region
    assert one_box_per_garment([collar, belt_line, jacket]) == [jacket, belt_line]
