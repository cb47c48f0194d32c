"""Score a run on datasets, as `fashionlens evaluate` and `fashionlens compare` do: read and check every
dataset first, predict, compute the metrics, then write metrics.json, report.html and the figures (each
atomically), so a bad input stops before anything lands in the output folder.
The evaluation modules (torch, scikit-learn, pycocotools, matplotlib) are imported inside the functions
that use them, so that importing the runner stays light.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fashionlens.core.errors import FashionLensError
from fashionlens.core.model_meta import ModelMeta

if TYPE_CHECKING:
    from fashionlens.evaluation import report


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # progress and messages never touch stdout (--json)


def select_split(samples: list, split: str, path: Path) -> list:
    """The samples of `split`; one clear error when there are none."""
    if split == "all":
        chosen = samples
    else:
        chosen = [sample for sample in samples if sample.split == split]
    if not chosen:
        present = sorted({str(sample.split) for sample in samples if sample.split})
        hint = f"splits present: {', '.join(present)}" if present else "the data has no splits; use --split all"
        raise FashionLensError(f"{path}: no samples in split '{split}' ({hint})")
    return chosen


def read_split(path: Path, split: str) -> list:
    from fashionlens.data import read_dataset

    say(f"reading {path}")
    return select_split(read_dataset(path), split, path)


def dataset_names(paths: list[Path]) -> list[str]:
    """The column names of the side-by-side table: the paths as given, made unique."""
    names: list[str] = []
    for path in paths:
        name, count = str(path), 2
        while name in names:
            name, count = f"{path} #{count}", count + 1
        names.append(name)
    return names


def mapped_samples(samples: list, path: Path, class_names: list[str], label_map: dict | None):
    """Samples whose labels are renamed into the checkpoint's classes; an error when nothing maps."""
    from fashionlens.evaluation.classification import map_samples_to_classes

    mapped, mapping = map_samples_to_classes(samples, class_names, label_map)
    if mapping.kept == 0:
        labels = ", ".join(list(mapping.left_out)[:8])
        raise FashionLensError(
            f"{path}: no label maps onto the checkpoint's classes (data labels: {labels}; "
            f"checkpoint classes: {', '.join(class_names)})"
        )
    if mapping.left_out:
        say(
            f"{path}: {sum(mapping.left_out.values())} garments left out, their labels have no counterpart "
            f"among the checkpoint's classes ({', '.join(mapping.left_out)})"
        )
    return mapped, mapping


def on_device(model, device: str | None):
    """The model on --device (default: the GPU when there is one); prediction runs where the model is."""
    import torch

    from fashionlens.core.devices import pick_device

    if device and device.startswith("cuda") and not torch.cuda.is_available():
        raise FashionLensError(f"--device {device}: no CUDA GPU is available here")
    return model.to(pick_device(device))


def classifier_predictions(
    checkpoint: dict,
    samples: list,
    path: Path,
    batch_size: int,
    model=None,
    device: str | None = None,
    crops: bool = False,
):
    """(true labels, probabilities) of the classifier on samples already mapped to its classes."""
    import numpy as np

    from fashionlens.models.classifier import classifier_from_checkpoint, predict_classifier

    model = model or on_device(classifier_from_checkpoint(checkpoint), device)
    true_labels, probs = predict_classifier(model, checkpoint, samples, batch_size, crops=crops or None)
    if len(true_labels) == 0:
        raise FashionLensError(f"{path}: no garment to classify in this split")
    return list(true_labels), np.asarray(probs), model


def evaluate_classifier_run(
    checkpoint: dict,
    paths: list[Path],
    split: str,
    batch_size: int,
    label_map: dict | None,
    device: str | None,
    crops: bool = False,
) -> tuple[dict, dict[str, bytes], report.Figures]:
    from fashionlens.evaluation import plots
    from fashionlens.evaluation.classification import evaluate_classifier, roc_curves

    class_names = list(ModelMeta.from_checkpoint(checkpoint).class_names)
    # every dataset is read and checked before the first prediction: a bad one fails fast
    prepared = [
        (name, path, *mapped_samples(read_split(path, split), path, class_names, label_map))
        for name, path in zip(dataset_names(paths), paths)
    ]
    by_dataset, files, figures, model = {}, {}, {}, None
    for index, (name, path, samples, mapping) in enumerate(prepared, start=1):
        say(f"classifying {path}")
        true_labels, probs, model = classifier_predictions(checkpoint, samples, path, batch_size, model, device, crops)
        metrics = evaluate_classifier(true_labels, probs, class_names)
        metrics.update(data=str(path), label_mapping=mapping.as_dict())
        drawn, figures[name] = plots.classifier_figures(
            f"d{index}", name, metrics, roc_curves(true_labels, probs, class_names)
        )
        files.update(drawn)
        errors = where_it_looks(model, checkpoint, samples, crops, true_labels, probs, metrics, batch_size)
        if errors is not None:  # beside the confusion matrix, the first figure
            files[f"d{index}_errors_saliency.png"] = errors
            figures[name].insert(
                1,
                (
                    "the most confident errors: what the model looked at (Grad-CAM of the class it chose)",
                    f"d{index}_errors_saliency.png",
                ),
            )
        by_dataset[name] = metrics
    return by_dataset, files, figures


def where_it_looks(
    model, checkpoint: dict, samples: list, crops: bool, true_labels: list[str], probs, metrics: dict, batch_size: int
) -> bytes | None:
    """Saliency on the evaluated garments: metrics["saliency"] (pointing game and energy share on the
    annotated boxes; None without boxes), the honesty check's note when the model looks mostly outside
    the garments, and the confident errors' grid (PNG bytes, None when nothing was wrong)."""
    from fashionlens.evaluation.saliency import looks_outside_note
    from fashionlens.evaluation.saliency_maps import errors_grid_png, evaluated_dataset, garment_looks

    say("saliency maps (Grad-CAM)")
    dataset = evaluated_dataset(checkpoint, samples, crops)
    looks = garment_looks(model, dataset, batch_size)
    metrics["saliency"] = looks if looks["garments"] else None
    note = looks_outside_note(metrics["saliency"])
    if note:  # a note, not a reason: looking beside the garment is not collapsing
        metrics["honesty"]["notes"].append(note)
    return errors_grid_png(
        model,
        dataset,
        true_labels,
        probs,
        ModelMeta.from_checkpoint(checkpoint).class_names,
        "most confident errors",
        batch_size,
    )


def boxed_split(path: Path, split: str, regions: list[str]) -> tuple[list, int]:
    """The split's photos annotated with boxes, and how many were left out (whole-image labels only)."""
    from fashionlens.evaluation.detection import boxed_samples, build_ground_truth

    samples, without_boxes = boxed_samples(read_split(path, split))
    truth = build_ground_truth(samples, regions)
    if not truth.coco["annotations"]:
        left_out = f"; left out: {dict(truth.left_out)}" if truth.left_out else ""
        raise FashionLensError(
            f"{path}: no usable garment box of the checkpoint's regions ({', '.join(regions)}) "
            f"in split '{split}' (a detector needs boxed data){left_out}"
        )
    return samples, without_boxes


def evaluate_detector_run(
    checkpoint: dict, paths: list[Path], split: str, batch_size: int, device: str | None
) -> tuple[dict, dict[str, bytes], report.Figures]:
    from fashionlens.evaluation import plots
    from fashionlens.evaluation.detection import evaluate_detector
    from fashionlens.models.detector import detector_from_checkpoint, predict_detections

    regions = list(ModelMeta.from_checkpoint(checkpoint).class_names)
    prepared = [(name, path, *boxed_split(path, split, regions)) for name, path in zip(dataset_names(paths), paths)]
    by_dataset, files, figures, model = {}, {}, {}, None
    for index, (name, path, samples, without_boxes) in enumerate(prepared, start=1):
        say(f"detecting in {path}")
        model = model or on_device(detector_from_checkpoint(checkpoint), device)
        metrics, curves = evaluate_detector(
            samples, predict_detections(model, checkpoint, samples, batch_size), regions
        )
        metrics.update(data=str(path), images_without_boxes=without_boxes)
        drawn, figures[name] = plots.detector_figures(f"d{index}", name, metrics, curves)
        files.update(drawn)
        by_dataset[name] = metrics
    return by_dataset, files, figures


def load_run(run_dir: Path) -> dict:
    from fashionlens.core.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(run_dir)
    meta = ModelMeta.from_checkpoint(checkpoint)
    if meta.kind not in ("classifier", "detector"):
        raise FashionLensError(f"{meta.path}: unknown checkpoint kind {meta.kind!r}")
    return checkpoint


def load_label_map_option(path: Path | None) -> dict | None:
    from fashionlens.core.taxonomy import load_label_map

    return load_label_map(path) if path else None


def evaluate_run(
    run_dir: Path,
    data: list[Path],
    split: str,
    out: Path,
    batch_size: int = 16,
    label_map: Path | None = None,
    device: str | None = None,
    crops: bool = False,
) -> tuple[dict, dict[str, bytes | str]]:
    """What `fashionlens evaluate` does: score the run, write metrics.json and report.html (and the
    figures) into `out`; (the metrics document, the files written by name)."""
    from fashionlens.data import detect_format
    from fashionlens.evaluation import report

    for path in data:  # a missing or unknown dataset fails before the checkpoint and the models load
        detect_format(path)
    checkpoint = load_run(run_dir)
    meta = ModelMeta.from_checkpoint(checkpoint)
    if meta.kind == "classifier":
        by_dataset, files, figures = evaluate_classifier_run(
            checkpoint, data, split, batch_size, load_label_map_option(label_map), device, crops
        )
    else:
        by_dataset, files, figures = evaluate_detector_run(checkpoint, data, split, batch_size, device)
    first = next(iter(by_dataset.values()))
    document = {
        "kind": meta.kind,
        "run_dir": str(run_dir),
        "checkpoint": meta.path,
        "split": split,
        "class_names": list(meta.class_names),
        **first,
        "by_dataset": by_dataset,
    }
    page = report.classifier_page if meta.kind == "classifier" else report.detector_page
    outputs: dict[str, bytes | str] = {
        **files,
        "metrics.json": report.to_json(document),
        "report.html": page(document, figures),
    }
    report.write_outputs(out, outputs)
    return document, outputs


def compare_runs(
    checkpoint_a: dict,
    checkpoint_b: dict,
    data: Path,
    split: str,
    batch_size: int,
    label_map: dict | None,
    device: str | None,
) -> dict:
    """Both classifiers on the same items: each one's summary and honesty check, and the case table."""
    from fashionlens.evaluation import compare as case_table
    from fashionlens.evaluation.classification import evaluate_classifier

    meta_a, meta_b = ModelMeta.from_checkpoint(checkpoint_a), ModelMeta.from_checkpoint(checkpoint_b)
    for meta in (meta_a, meta_b):
        if meta.kind != "classifier":
            raise FashionLensError(f"{meta.path}: compare needs classifiers, this is a {meta.kind}")
    classes_a, classes_b = list(meta_a.class_names), list(meta_b.class_names)
    if set(classes_a) != set(classes_b):
        raise FashionLensError(
            f"{meta_b.path}: predicts other classes than {meta_a.path} "
            f"({', '.join(sorted(set(classes_a) ^ set(classes_b)))})"
        )
    samples, mapping = mapped_samples(read_split(data, split), data, classes_a, label_map)
    runs, predictions, truth = {}, {}, None
    for label, checkpoint, meta in (("a", checkpoint_a, meta_a), ("b", checkpoint_b, meta_b)):
        say(f"predicting with {meta.path}")
        true_labels, probs, _ = classifier_predictions(checkpoint, samples, data, batch_size, device=device)
        if truth is not None and true_labels != truth:
            raise FashionLensError(
                f"{meta.path}: scores other items than run A on {data} "
                "(different classifier modes?); compare needs the same items"
            )
        truth = true_labels
        names = list(meta.class_names)
        metrics = evaluate_classifier(true_labels, probs, names)
        predictions[label] = [names[k] for k in probs.argmax(axis=1)]
        runs[label] = {
            "run_dir": str(Path(meta.name).parent),
            "checkpoint": meta.path,
            **{
                key: metrics[key]
                for key in ("accuracy", "balanced_accuracy", "macro_f1", "majority_baseline", "collapsed", "honesty")
            },
        }
    assert truth is not None  # set by the first run's predictions
    rows = case_table.compare_cases(truth, predictions["a"], predictions["b"], classes_a)
    return {
        "data": str(data),
        "split": split,
        "label_mapping": mapping.as_dict(),
        **runs,
        "cases": rows,
        "mcnemar_p_value": case_table.mcnemar_p_value(rows[-1]),
    }
