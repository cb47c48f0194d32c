"""Score a multi-task run's own attribute heads (`train classifier --attribute-labels`) on the street val
garments' hand labels, as benchmarks/attributes.py scores the shipped linear heads.

    .venv/bin/python benchmarks/attribute_heads.py runs/bench/lite0-clothing-street-x
    .venv/bin/python benchmarks/attribute_heads.py runs/bench/NAME --results /tmp/heads.json

Each labelled garment of attributes_val.csv is shown to the run's best checkpoint as its annotated box's
crop (the classifier's context margin and evaluation transform, as `evaluate --crops` shows it); its
pattern, sleeve and colour are the heads' most probable names. Unlabelled (`unclear`, blank) attributes
are left out, so each attribute counts the garments labelled with it. The verdict is
evaluation/honesty.py's. Result: benchmarks/results/attribute_heads_NAME.json unless --results says.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from attributes import GOALS, scores
from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.core.model_meta import ModelMeta
from fashionlens.data import read_dataset
from fashionlens.data.classification import MISSING_ATTRIBUTE, AttributeLabelledDataset
from fashionlens.data.transforms import classification_eval_transform
from fashionlens.models.classifier import build_classifier
from fashionlens.train.attribute_labels import ATTRIBUTES, read_attribute_labels
from fashionlens.train.classifier import attribute_classes
from fashionlens.train.settings import ClassifierSettings
from recipe import RESULTS, add_data_path, shown, street, write_result


def multi_task_model(run: Path) -> tuple[torch.nn.Module, dict]:
    """The run's best checkpoint with its attribute heads (inference's loader leaves them out)."""
    checkpoint = load_checkpoint(run)
    settings = ClassifierSettings(**checkpoint["config"]["settings"])
    if not settings.attribute_labels:
        raise SystemExit(f"{run}: not a multi-task run (trained without --attribute-labels)")
    model = build_classifier(
        settings.arch, len(checkpoint["class_names"]), settings.mode, attribute_classes=attribute_classes(settings)
    )
    model.load_state_dict(checkpoint["model"])
    return model.eval(), checkpoint


def val_garments(checkpoint: dict, data_path: Path) -> AttributeLabelledDataset:
    """The street val garments' crops, every category kept, with their hand labels as targets."""
    samples = [sample for sample in read_dataset(street(data_path)) if sample.split == "val"]
    meta = ModelMeta.from_checkpoint(checkpoint)
    return AttributeLabelledDataset(
        samples,
        read_attribute_labels(data_path / "street" / "attributes_val.csv"),
        class_names=meta.class_names,
        mode=meta.classifier_mode,
        transform=classification_eval_transform(meta.preprocessing),
        context_margin=meta.context_margin,
        keep_unknown_labels=True,
        crop=True,
    )


def predict(model: torch.nn.Module, dataset: AttributeLabelledDataset) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each garment's attribute targets (N x 3) and each head's predicted indices."""
    targets: list[np.ndarray] = []
    predicted: list[list[int]] = [[] for _ in ATTRIBUTES]
    with torch.inference_mode():
        for images, geometry, batch_targets in DataLoader(dataset, batch_size=32):
            _, attribute_logits = model(images, geometry, attributes=True)
            targets.append(batch_targets[:, 1:].numpy())
            for column, logits in enumerate(attribute_logits):
                predicted[column] += logits.argmax(dim=1).tolist()
    return np.concatenate(targets), [np.asarray(p) for p in predicted]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a run directory of `train classifier --attribute-labels`")
    parser.add_argument("--results", type=Path, help="where the JSON goes")
    add_data_path(parser)
    options = parser.parse_args()
    model, checkpoint = multi_task_model(options.run)
    targets, predicted = predict(model, val_garments(checkpoint, options.data_path))
    document: dict = {"run": shown(options.run), "attributes": {}}
    for column, (name, names) in enumerate(ATTRIBUTES.items()):
        keep = targets[:, column] != MISSING_ATTRIBUTE
        truth, answer = np.array(names)[targets[keep, column]], np.array(names)[predicted[column][keep]]
        document["attributes"][name] = {**scores(truth, answer, names), "goal": GOALS[name]}
        result = document["attributes"][name]
        print(f"{name}: {result['garments']} garments, accuracy {result['accuracy']}, ", end="")
        print(f"balanced {result['balanced_accuracy']}; {result['verdict']}")
    write_result(options.results or RESULTS / f"attribute_heads_{options.run.name}.json", document, options.data_path)


if __name__ == "__main__":
    main()
