"""The catalogue: import / re-import / remove keep the database and the index consistent, bad rows,
atomic writes (even when the process is killed), one model per catalogue, filters, exact and HNSW indexes,
events and experiments. The store's tests take `catalog_at` (tests/postgres_testing.py): each runs against
SQLite and against PostgreSQL alike."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import make_image
from fashionlens.catalog.importer import ImportRefused, choose_garment, import_products, reindex
from fashionlens.catalog.index import APPROXIMATE, EXACT, CatalogIndex, index_cache_path
from fashionlens.catalog.store import CatalogItem, Filters, SQLiteStore
from fashionlens.catalog.stores import index_cache, open_store
from fashionlens.core.errors import DataFormatError, FashionLensError
from fashionlens.core.records import Box
from fashionlens.inference.analyzer import Analysis, AnalyzedGarment
from fashionlens.inference.colors import DominantColor
from helpers import SIX, product_csv
from tiny_models import random_analyzer


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def assert_consistent(store, index: CatalogIndex) -> None:
    """Every stored item is in the index with its stored vector, and nothing else is."""
    keys, vectors = store.vectors()
    assert index.index.ntotal == len(keys)
    for key, vector in zip(keys, vectors):
        [best] = index.search(vector, 1)
        assert (best.key, best.score) == (key, pytest.approx(1.0, abs=1e-5))


def test_import_reimport_remove_keep_database_and_index_consistent(tmp_path, catalog_at):
    analyzer = random_analyzer()
    database, csv_path = catalog_at(), product_csv(tmp_path, SIX)
    store = open_store(database, create=True)
    report = import_products(csv_path, store, analyzer)
    assert (report.new, report.updated, report.unchanged, report.bad) == (6, 0, 0, [])
    items = store.get_items([f"SKU-{n}" for n in range(6)])
    assert items["SKU-2"].category == "Dress" and items["SKU-2"].region == "full" and items["SKU-2"].price == 30
    assert items["SKU-0"].attributes == {"kids": "True", "in_stock": "yes"} and items["SKU-0"].color == "Red"
    assert store.model()["id"] == analyzer.model_id
    index = CatalogIndex(store, index_cache(database))
    assert index.kind == EXACT
    assert_consistent(store, index)
    # re-import: a new price, a new photo for SKU-1, one row unchanged as the rest
    make_image(tmp_path / "photos" / "p1b.png", (32, 32), (250, 250, 250))
    changed = SIX[:]
    changed[0] = changed[0].replace(",10,", ",12,")
    changed[1] = changed[1].replace("photos/p1.png", "photos/p1b.png")
    old_vector = items["SKU-1"].embedding
    report = import_products(product_csv(tmp_path, changed), store, analyzer)
    assert (report.new, report.updated, report.unchanged) == (0, 2, 4)
    updated = store.get_items(["SKU-0", "SKU-1"])
    assert updated["SKU-0"].price == 12 and updated["SKU-1"].color == "White"
    assert not np.allclose(updated["SKU-1"].embedding, old_vector)
    assert updated["SKU-1"].key == items["SKU-1"].key  # the index id survives an update
    index = CatalogIndex(store, index_cache(database))  # the cache is stale: rebuilt
    assert_consistent(store, index)
    assert store.remove_items(["SKU-3", "SKU-4"]) == 2
    index = CatalogIndex(store, index_cache(database))
    assert_consistent(store, index)
    assert {item.id for item in store.find_items()} == {"SKU-0", "SKU-1", "SKU-2", "SKU-5"}
    assert all(hit.key not in (items["SKU-3"].key, items["SKU-4"].key) for hit in index.search(old_vector, 10))
    with pytest.raises(FashionLensError, match="no item with id SKU-404; nothing removed"):
        store.remove_items(["SKU-0", "SKU-404"])
    assert store.count() == 4


def test_bad_rows_are_named_and_the_good_ones_imported(tmp_path, catalog_at):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"not an image")
    rows = SIX[:2] + [
        "SKU-0,photos/p2.png,Again,1,Dress,,False,yes",  # line 4: duplicate id
        ",photos/p2.png,No id,1,Dress,,False,yes",  # line 5
        "SKU-7,photos/missing.png,Missing,1,Dress,,False,yes",  # line 6
        "SKU-8,photos/broken.jpg,Broken,1,Dress,,False,yes",  # line 7
        "SKU-9,photos/p3.png,Cheap,abc,Dress,,False,yes",  # line 8
        "SKU-10,photos/p3.png,Short",  # line 9
    ]
    csv_path = product_csv(tmp_path, rows)
    store = open_store(catalog_at(), create=True)
    report = import_products(csv_path, store, random_analyzer())
    assert report.imported == 2 and {item.id for item in store.find_items()} == {"SKU-0", "SKU-1"}
    assert [str(bad) for bad in report.bad] == [
        f"{csv_path}:4 (id SKU-0): duplicate id (first on line 2)",
        f"{csv_path}:5 (id ?): empty id",
        f"{csv_path}:6 (id SKU-7): image not found: {tmp_path / 'photos' / 'missing.png'}",
        f"{csv_path}:7 (id SKU-8): {tmp_path / 'photos' / 'broken.jpg'}: not an image (unrecognised format)",
        f"{csv_path}:8 (id SKU-9): price 'abc' is not a number",
        f"{csv_path}:9 (id SKU-10): expected 8 columns, found 3",
    ]
    strict_store = open_store(catalog_at("strict.db"), create=True)
    with pytest.raises(ImportRefused, match="6 bad rows, nothing imported") as refused:
        import_products(csv_path, strict_store, random_analyzer(), strict=True)
    assert len(refused.value.bad) == 6 and strict_store.count() == 0 and strict_store.model() is None


def test_a_csv_without_the_required_columns_is_one_error(tmp_path):
    path = product_csv(tmp_path, ["SKU-1,Shirt"], header="id,name\n")
    with pytest.raises(
        DataFormatError, match=r"products.csv:1: the header needs the columns id,image \(missing image\)"
    ):
        import_products(path, SQLiteStore(tmp_path / "shop.db", create=True), random_analyzer())


KILLER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from fashionlens.catalog.store import CatalogItem
    from fashionlens.catalog.stores import open_store

    store = open_store(sys.argv[1])
    written = []
    original = type(store)._write_item

    def write_then_die(self, cursor, item):
        original(self, cursor, item)
        written.append(item.id)
        if len(written) == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no rollback: as a power cut or kill -9

    type(store)._write_item = write_then_die
    items = [CatalogItem(id=f"NEW-{n}", image="x.png", price=1.0, embedding=np.ones(4, np.float32) / 2)
             for n in range(5)]
    items.append(CatalogItem(id="OLD-0", image="y.png", price=99.0, embedding=np.ones(4, np.float32) / 2))
    store.write_items(items, {"id": "model-a"})
""")


def test_an_import_killed_half_way_leaves_the_previous_catalogue_intact(catalog_at):
    database = catalog_at()
    store = open_store(database, create=True)
    before = [
        CatalogItem(id=f"OLD-{n}", image=f"{n}.png", price=float(n), embedding=unit(np.eye(4)[n])) for n in range(3)
    ]
    store.write_items(before, {"id": "model-a"})
    stamp = store.stamp()
    store.close()
    killed = subprocess.run([sys.executable, "-c", KILLER, str(database)], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    store = open_store(database)
    assert store.stamp() == stamp
    after = store.get_items(["OLD-0", "OLD-1", "OLD-2", "NEW-0"])
    assert sorted(after) == ["OLD-0", "OLD-1", "OLD-2"] and after["OLD-0"].price == 0.0
    assert np.array_equal(after["OLD-1"].embedding, before[1].embedding)
    assert_consistent(store, CatalogIndex(store))


def test_an_error_half_way_through_a_write_changes_nothing(catalog_at, monkeypatch):
    store = open_store(catalog_at(), create=True)
    store.write_items([CatalogItem(id="A", image="a.png", embedding=unit([1, 0]))], {"id": "m"})
    stamp = store.stamp()
    calls = []

    def fail_on_second(cursor, item):
        calls.append(item.id)
        if len(calls) == 2:
            raise OSError("disk full")
        type(store)._write_item(store, cursor, item)

    monkeypatch.setattr(store, "_write_item", fail_on_second)
    with pytest.raises(OSError):
        store.write_items([CatalogItem(id=i, image="b.png", embedding=unit([0, 1])) for i in ("B", "C")], {"id": "m"})
    assert store.stamp() == stamp and [item.id for item in store.find_items()] == ["A"]


def test_another_model_is_refused_until_reindex(tmp_path, catalog_at):
    database, csv_path = catalog_at(), product_csv(tmp_path, SIX[:3])
    store = open_store(database, create=True)
    import_products(csv_path, store, random_analyzer(seed=0))
    other = random_analyzer(seed=1)
    with pytest.raises(FashionLensError, match="embeddings were made by model .* not by .*catalog reindex") as refused:
        import_products(csv_path, store, other)
    assert f"--catalog {store.path} --classifier" in str(refused.value)  # a URL's "//" kept
    old = store.get_items(["SKU-0"])["SKU-0"].embedding
    assert reindex(store, other) == 3
    assert store.model()["id"] == other.model_id
    new = store.get_items(["SKU-0"])["SKU-0"]
    assert not np.allclose(new.embedding, old) and new.category == "T-Shirt" and new.price == 10
    assert_consistent(store, CatalogIndex(store, index_cache(database)))


def test_filters_at_query_time(tmp_path, catalog_at):
    store = open_store(catalog_at(), create=True)
    import_products(product_csv(tmp_path, SIX), store, random_analyzer())
    ids = lambda **f: sorted(item.id for item in store.find_items(Filters(**f)))  # noqa: E731
    assert ids(category="t-shirt") == ["SKU-0", "SKU-3"]
    assert ids(regions=("lower",)) == ["SKU-1", "SKU-4", "SKU-5"]
    assert ids(min_price=20, max_price=40) == ["SKU-1", "SKU-2", "SKU-3"]
    assert ids(attributes=(("kids", "true"), ("in_stock", "yes"))) == ["SKU-0", "SKU-4"]
    assert ids(color="red") == ["SKU-0"]
    assert ids(text="sku-4") == ["SKU-4"] and ids(text="nothing like it") == [] and ids(text="ITEM 5") == ["SKU-5"]
    assert ids(kids=True) == ["SKU-0", "SKU-4"] and ids(kids=False) == ["SKU-1", "SKU-2", "SKU-3", "SKU-5"]
    assert ids(regions=(None, "full")) == ["SKU-2"]  # no item lacks a region here
    # counted and paged in the database, in id order
    assert store.count(Filters(regions=("lower",))) == 3 and store.count() == 6
    assert [item.id for item in store.find_items(limit=2, offset=1)] == ["SKU-1", "SKU-2"]
    index = CatalogIndex(store)
    query = store.get_items(["SKU-4"])["SKU-4"].embedding
    found = store.find_items(keys=[h.key for h in index.search(query, 5, Filters(regions=("lower",), max_price=50))])
    assert [item.id for item in found][0] == "SKU-4" and {item.id for item in found} == {"SKU-1", "SKU-4"}


def test_large_catalogues_get_an_approximate_index_that_finds_the_nearest(catalog_at):
    rng = np.random.default_rng(0)
    vectors = [unit(v) for v in rng.normal(size=(300, 16))]
    database = catalog_at("big.db")
    store = open_store(database, create=True)
    store.write_items(
        [
            CatalogItem(id=f"I{n:03d}", image="x.png", region="upper" if n % 3 else "lower", embedding=v)
            for n, v in enumerate(vectors)
        ],
        {"id": "m"},
    )
    exact = CatalogIndex(store, exact_limit=1000)
    approximate = CatalogIndex(store, index_cache(database), exact_limit=100)
    assert (exact.kind, approximate.kind) == (EXACT, APPROXIMATE)
    query = unit(vectors[7] + 0.3 * rng.normal(size=16))
    assert [h.key for h in approximate.search(query, 5)] == [h.key for h in exact.search(query, 5)]
    lower = Filters(regions=("lower",))  # 100 items: searched exactly, the graph would lose some
    assert approximate.search(query, 5, lower) == exact.search(query, 5, lower)
    cached = CatalogIndex(store, index_cache(database), exact_limit=100)
    assert cached.kind == APPROXIMATE and cached.search(query, 5) == approximate.search(query, 5)


def test_a_damaged_index_cache_is_rebuilt_and_a_foreign_file_is_refused(tmp_path):
    database = tmp_path / "shop.db"
    store = SQLiteStore(database, create=True)
    store.write_items([CatalogItem(id="A", image="a.png", embedding=unit([1, 0]))], {"id": "m"})
    index_cache_path(database).write_bytes(b"garbage")
    assert [hit.score for hit in CatalogIndex(store, index_cache(database)).search(unit([1, 0]), 3)] == [
        pytest.approx(1.0)
    ]
    (tmp_path / "notes.txt").write_text("hello " * 100)
    with pytest.raises(FashionLensError, match="notes.txt: not a fashionlens catalogue"):
        SQLiteStore(tmp_path / "notes.txt")
    with pytest.raises(FashionLensError, match="missing.db: no catalogue here; create one with"):
        SQLiteStore(tmp_path / "missing.db")


def test_folder_import_takes_ids_from_paths_and_categories_from_folders(tmp_path, catalog_at):
    make_image(tmp_path / "shop" / "Pants" / "blue-jeans.jpg", (32, 32), (40, 70, 220))
    make_image(tmp_path / "shop" / "loose.png", (32, 32), (250, 250, 250))
    store = open_store(catalog_at(), create=True)
    assert import_products(tmp_path / "shop", store, random_analyzer()).new == 2
    items = store.get_items(["Pants/blue-jeans", "loose"])
    assert (items["Pants/blue-jeans"].category, items["Pants/blue-jeans"].region) == ("Pants", "lower")
    assert items["loose"].category is None and items["loose"].predicted_category is not None


def test_on_model_photos_index_the_garment_of_the_products_region():
    def garment(region, score, category="X"):
        return AnalyzedGarment(
            Box(0, 0, 1, 1),
            region,
            score,
            category,
            1.0,
            [(category, 1.0)],
            DominantColor("Red", 1.0, 1.0, (255, 0, 0)),
            np.zeros(2, np.float32),
        )

    analysis = Analysis("p.jpg", 10, 10, True, [garment("upper", 0.9), garment("lower", 0.7)])
    assert choose_garment(analysis, "Skirt").region == "lower"
    assert choose_garment(analysis, "Blouse").region == "upper"
    assert choose_garment(analysis, None).region_score == 0.9  # no category: the most confident
    # a coat over a shirt, boxed as full-body: an Outwear product is the coat, not the upper-body shirt
    coat_over_shirt = [garment("upper", 0.9, "Shirt"), garment("full", 0.8, "Outwear")]
    assert choose_garment(Analysis("p.jpg", 10, 10, True, coat_over_shirt), "outwear ").category == "Outwear"
    assert choose_garment(Analysis("p.jpg", 10, 10, True, coat_over_shirt), "Jacket").category == "Outwear"


def test_import_with_the_onnx_backend_stores_the_torch_embeddings(fashionlens, tiny_runs, tmp_path):
    classifier = tmp_path / "classifier"  # its own copy: the onnx/ export is written beside the checkpoint
    shutil.copytree(tiny_runs.classifier, classifier)
    products = product_csv(tmp_path, SIX)
    for backend in ("torch", "onnx"):
        result = fashionlens(
            "catalog",
            "import",
            products,
            "--catalog",
            tmp_path / f"{backend}.db",
            "--classifier",
            classifier,
            "--backend",
            backend,
        )
        assert result.returncode == 0, result.stderr
    eager, onnx = SQLiteStore(tmp_path / "torch.db"), SQLiteStore(tmp_path / "onnx.db")
    assert onnx.model()["classifier"].endswith(".onnx") and eager.model()["classifier"].endswith(".pt")
    assert onnx.model()["id"] == eager.model()["id"]  # one catalogue serves queries from either backend
    (_, expected), (_, found) = eager.vectors(), onnx.vectors()
    assert expected.shape == found.shape == (6, expected.shape[1])
    np.testing.assert_allclose(found, expected, atol=1e-4)
    assert [i.predicted_category for i in onnx.find_items()] == [i.predicted_category for i in eager.find_items()]


def test_a_category_without_a_region_keeps_the_item_out_of_the_garment_regions(tmp_path, catalog_at):
    rows = [
        "HAT-1,photos/p0.png,Hat,10,Hat,,,",
        "PANTS-1,photos/p1.png,Pants,20,Pants,,,",
        "ANY-1,photos/p2.png,No category,30,,,,",
    ]
    store = open_store(catalog_at(), create=True)
    analyzer = random_analyzer()
    import_products(product_csv(tmp_path, rows), store, analyzer)
    items = store.get_items(["HAT-1", "PANTS-1", "ANY-1"])
    assert items["HAT-1"].region is None  # not the region of whatever garment the classifier guessed
    assert items["PANTS-1"].region == "lower"
    guessed = analyzer.analyze_paths([tmp_path / "photos/p2.png"])[0].garments[0]
    assert items["ANY-1"].region == guessed.region  # no category given: the analysis decides
    in_regions = {item.id for item in store.find_items(Filters(regions=("upper", "lower", "full")))}
    assert "HAT-1" not in in_regions and "PANTS-1" in in_regions


def test_pattern_and_sleeve_are_stored_and_filtered(catalog_at):
    store = open_store(catalog_at(), create=True)
    store.write_items(
        [
            CatalogItem(
                id=i,
                image=f"{i}.png",
                region="upper",
                pattern=pattern,
                sleeve=sleeve,
                attributes={"kids": kids},
                embedding=unit([n + 1, 1]),
            )
            for n, (i, pattern, sleeve, kids) in enumerate(
                [("A", "striped", "long", "yes"), ("B", "solid", "short", "False"), ("C", "striped", None, "1")]
            )
        ],
        {"id": "m"},
    )
    ids = lambda **f: [item.id for item in store.find_items(Filters(**f))]  # noqa: E731
    assert ids(pattern="Striped") == ["A", "C"] and ids(sleeve="short") == ["B"]
    assert ids(pattern="striped", kids=True) == ["A", "C"] and ids(kids=False) == ["B"]
    assert store.get_items(["C"])["C"].sleeve is None and store.count(Filters(pattern="floral")) == 0
    assert store.groups(Filters(pattern="striped")) == [(None, None, 2)]


def test_events_and_experiments_are_kept_in_order(catalog_at):
    store = open_store(catalog_at(), create=True)
    assert (store.events(), store.last_event_key(), store.experiments()) == ([], 0, [])
    store.add_event("2026-01-02T10:00:00Z", "click", "page", "s1", {"item": "A", "rank": 1})
    store.add_event("2026-01-01T09:00:00Z", "analysis", None, None, {"garments": [{"category": "Dress"}]})
    assert [event["kind"] for event in store.events()] == ["analysis", "click"]  # by time
    assert store.events(since="2026-01-02") == [
        {"time": "2026-01-02T10:00:00Z", "kind": "click", "channel": "page", "session": "s1", "item": "A", "rank": 1}
    ]
    assert store.last_event_key() == 2
    store.save_experiment({"name": "b", "arms": ["x"]})
    store.save_experiment({"name": "a", "arms": ["y"]})
    store.save_experiment({"name": "b", "arms": ["x", "z"]})  # replaced by name
    assert store.experiments() == [{"name": "a", "arms": ["y"]}, {"name": "b", "arms": ["x", "z"]}]
    stamp = store.stamp()
    store.add_event("2026-01-03T00:00:00Z", "view", None, None, {})
    assert store.stamp() == stamp  # events leave the items' index alone


def test_import_records_allow_one_running_import_and_come_newest_first(catalog_at):
    location = catalog_at()
    store = open_store(location, create=True)
    other = open_store(location)  # another worker's connection: the same rule
    record = {"id": "a", "state": "running", "imported": 0, "refused_rows": []}
    assert store.start_import(record) and other.import_records() == [record]
    assert not other.start_import({"id": "b", "state": "running"})
    store.save_import({**record, "state": "done", "imported": 3})
    assert other.start_import({"id": "b", "state": "running"})
    other.save_import({"id": "b", "state": "refused", "error": "shop.zip: not a zip archive"})
    assert [(r["id"], r["state"]) for r in store.import_records()] == [("b", "refused"), ("a", "done")]
    assert store.import_records("a") == [{**record, "state": "done", "imported": 3}]
    assert store.import_records("c") == [] and len(store.import_records(limit=1)) == 1
    assert store.stamp() == other.stamp()  # import records leave the items' index alone
    other.close()
    store.close()


def test_items_given_attributes_by_other_heads_keep_the_catalogue_asking_for_a_reindex(catalog_at):
    from fashionlens.catalog.store import attributes_note

    store = open_store(catalog_at(), create=True)
    old, new = {"id": "m", "attributes_version": "heads-1"}, {"id": "m", "attributes_version": "heads-2"}
    store.write_items([CatalogItem(id="A", image="a.png", embedding=np.ones(2, np.float32))], old)
    assert attributes_note(store.path, store.model(), old) is None
    # new heads give B its attributes; A's are still the old heads': the catalogue keeps saying so
    store.write_items([CatalogItem(id="B", image="b.png", embedding=np.ones(2, np.float32))], new)
    assert store.model()["attributes_version"] == "heads-1"
    note = attributes_note(store.path, store.model(), new)
    assert note is not None and f"run `fashionlens catalog reindex --catalog {store.path}`" in note
    items = list(store.get_items(["A", "B"]).values())
    store.write_items(items, new, replace_model=True)  # a reindex rewrites every item
    assert store.model()["attributes_version"] == "heads-2" and attributes_note(store.path, store.model(), new) is None
    store.close()
