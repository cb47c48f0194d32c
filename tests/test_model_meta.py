"""ModelMeta reads a checkpoint's model entries and writes them back as they were stored."""

from __future__ import annotations

import json

import pytest

from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.core.model_meta import ModelMeta
from fashionlens.inference.default_models import WEIGHTS_DIR


@pytest.mark.parametrize("kind", ["classifier", "detector"])
def test_the_shipped_models_metadata_round_trips(kind):
    checkpoint = load_checkpoint(WEIGHTS_DIR / f"{kind}.pt")
    meta = ModelMeta.from_checkpoint(checkpoint)
    assert meta.kind == kind and meta.path == checkpoint["path"]
    stored = meta.as_dict()
    assert stored == {key: checkpoint[key] for key in stored}
    assert ModelMeta.from_checkpoint({**stored, "path": meta.path}) == meta


def test_an_onnx_exports_metadata_reads_the_same_way(tmp_path):
    from fashionlens.core.checkpoint import save_checkpoint
    from fashionlens.export.exports import export_run
    from fashionlens.inference.analyzer_models import model_fingerprint
    from tiny_models import random_checkpoint

    save_checkpoint(random_checkpoint(), tmp_path / "classifier.pt")
    done = export_run(tmp_path / "classifier.pt")
    exported = ModelMeta.from_checkpoint(json.loads(done.metadata.read_text()))
    source = ModelMeta.from_checkpoint(load_checkpoint(tmp_path / "classifier.pt"))
    assert exported.fingerprint == model_fingerprint(load_checkpoint(tmp_path / "classifier.pt"))
    assert (exported.kind, exported.arch, exported.mode, exported.class_names, exported.preprocessing) == (
        source.kind,
        source.arch,
        source.mode,
        source.class_names,
        source.preprocessing,
    )


def test_a_missing_entry_that_a_model_needs_is_one_clear_error():
    meta = ModelMeta(kind="classifier", class_names=["a"], preprocessing={"image_size": 32}, path="x.pt")
    assert meta.context_margin == 0.0 and meta.image_size == 32
    with pytest.raises(FashionLensError, match="x.pt: a damaged classifier checkpoint \\(missing arch\\)"):
        assert meta.architecture
