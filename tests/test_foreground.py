"""A product photo's own extent and colour, apart from its background (foreground.py, Analyzer)."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fashionlens.core.records import Box
from fashionlens.inference.colors import color_of_pixels, product_color
from fashionlens.inference.foreground import product_foreground
from fashionlens.inference.garment_boxes import share_inside

CREAM, WOOD = (236, 230, 214), (120, 78, 42)
DRESS = (70, 40, 170, 200)  # the dress's extent in the 240 x 240 photo


def flat_lay(background=WOOD, product=CREAM) -> Image.Image:
    """A cream dress laid on a wooden floor: a bodice and a flared skirt, grain in the boards."""
    rng = np.random.default_rng(0)
    floor = np.clip(np.array(background) + rng.normal(0, 8, (240, 240, 3)), 0, 255).astype(np.uint8)
    floor[::12] = np.array(background) * 0.7  # the boards' seams
    photo = Image.fromarray(floor)
    draw = ImageDraw.Draw(photo)
    draw.rectangle((95, 40, 145, 110), fill=product)
    draw.polygon([(95, 110), (145, 110), (170, 200), (70, 200)], fill=product)
    return photo


def covered(box, extent) -> float:
    """The share of `extent` (x1, y1, x2, y2) inside `box`."""
    return share_inside(Box(*extent), box)


def test_a_flat_lay_product_is_boxed_and_coloured_apart_from_its_background():
    photo = flat_lay()
    found = product_foreground(photo)
    assert found.problem is None
    assert covered(found.box, DRESS) >= 0.8
    assert found.box.area <= 1.3 * (DRESS[2] - DRESS[0]) * (DRESS[3] - DRESS[1])  # not the floor
    assert product_color(found).name == "White"
    # the same photo's whole-frame colour is the floor's: what the foreground avoids
    assert color_of_pixels(np.asarray(photo).reshape(-1, 3)).name == "Brown"


def test_a_dark_product_on_a_light_bed():
    photo = flat_lay(background=(235, 235, 235), product=(30, 40, 90))
    found = product_foreground(photo)
    assert covered(found.box, DRESS) >= 0.8
    assert product_color(found).name == "Blue"


def test_a_blank_photo_is_the_whole_photo_with_a_reason():
    blank = Image.new("RGB", (100, 80), (250, 250, 250))
    found = product_foreground(blank)
    assert found.problem == "the photo is blank or one colour: no product in it"
    assert found.box.as_list() == [0.0, 0.0, 100.0, 80.0] and found.mask.all()


def test_foreground_is_deterministic():
    first, second = product_foreground(flat_lay()), product_foreground(flat_lay())
    assert first.box == second.box and np.array_equal(first.mask, second.mask)


def test_a_region_off_centre_only_is_not_the_product():
    """A white shirt on a white wall beside a dark doorway: the cut finds the doorway, not the shirt."""
    wall = Image.new("RGB", (240, 320), (235, 235, 232))
    draw = ImageDraw.Draw(wall)
    draw.rectangle((170, 20, 225, 300), fill=(40, 42, 48))  # the doorway, in the right third
    found = product_foreground(wall)
    assert found.box.as_list() == [0.0, 0.0, 240.0, 320.0] and found.problem is None


def test_product_photos_read_on_threads_keep_their_order_and_their_answers(monkeypatch):
    import threading

    import torch

    from fashionlens.inference import analyzer as analyzer_module
    from tiny_models import random_analyzer

    photos = [flat_lay(), flat_lay(background=(235, 235, 235), product=(30, 40, 90)), flat_lay(product=(200, 30, 30))]
    garments = [(photo, Box(0, 0, 240, 240), None) for photo in photos]
    alone = [analyzer_module.read_garment_pixels(*garment, False) for garment in garments]
    readers = []

    def product_foreground_noting_its_thread(image):
        readers.append(threading.current_thread().name)
        return product_foreground(image)

    monkeypatch.setattr(analyzer_module, "product_foreground", product_foreground_noting_its_thread)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    threaded = random_analyzer().read_pixels(garments)
    assert all(name.startswith("fashionlens-pixels") for name in readers) and len(readers) == 3
    assert [reading.color.name for reading in threaded] == ["White", "Blue", "Red"]
    assert [(r.box, r.color) for r in threaded] == [(r.box, r.color) for r in alone]
    assert all(np.array_equal(a.color.features, b.color.features) for a, b in zip(threaded, alone))


def read_two_products(analyzer) -> list[str]:
    garments = [(flat_lay(), Box(0, 0, 240, 240), None), (flat_lay(product=(200, 30, 30)), Box(0, 0, 240, 240), None)]
    return [reading.color.name for reading in analyzer.read_pixels(garments)]


# in a process of its own: a worker forked from the test suite's process, where trainings have run torch's
# and OpenCV's own thread pools, can hang for reasons that are not the pixel threads'
FORKED_WORKER = """
import multiprocessing
import torch
from test_foreground import read_two_products
from tiny_models import random_analyzer

torch.get_num_threads = lambda: 2
analyzer = random_analyzer()
assert read_two_products(analyzer) == ["White", "Red"]  # the parent's pool started
with multiprocessing.get_context("fork").Pool(1) as worker:  # a server's worker forked after it
    print(worker.apply_async(read_two_products, (analyzer,)).get(timeout=60))
"""


def test_a_forked_worker_reads_product_photos_on_threads_of_its_own():
    import subprocess
    import sys

    tests = Path(__file__).parent
    done = subprocess.run([sys.executable, "-c", FORKED_WORKER], cwd=tests, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['White', 'Red']"
