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


def test_an_onnx_exports_metadata_reads_the_same_way():
    exported = ModelMeta.from_checkpoint(json.loads((WEIGHTS_DIR / "onnx" / "classifier.json").read_text()))
    shipped = ModelMeta.from_checkpoint(load_checkpoint(WEIGHTS_DIR / "classifier.pt"))
    assert exported.fingerprint and (exported.arch, exported.class_names) == (shipped.arch, shipped.class_names)


def test_a_missing_entry_that_a_model_needs_is_one_clear_error():
    meta = ModelMeta(kind="classifier", class_names=["a"], preprocessing={"image_size": 32}, path="x.pt")
    assert meta.context_margin == 0.0 and meta.image_size == 32
    with pytest.raises(FashionLensError, match="x.pt: a damaged classifier checkpoint \\(missing arch\\)"):
        assert meta.architecture
