"""`fashionlens evaluate` and `fashionlens compare`: score run directories on datasets (evaluation/runner.py).

With --json, stdout holds only the JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from fashionlens.cli.app import app
from fashionlens.evaluation.runner import compare_runs, evaluate_run, load_label_map_option, load_run, say

DATA_HELP = "A dataset (labels.csv, COCO .json, streetstyle27k.manifest, DeepFashion root, class folders)."
SPLIT_HELP = "The split to score (the samples' split field); `all` scores every sample."


def warning_lines(warnings: list[str], shown: int = 3) -> str:
    """The first few warnings; the full list is in metrics.json and the report."""
    lines = "".join(f"\n  warning: {warning}" for warning in warnings[:shown])
    if len(warnings) > shown:
        lines += f"\n  ... and {len(warnings) - shown} more warnings (see the report)"
    return lines


def terminal_summary(document: dict) -> str:
    """Verdicts first (classifier), then the side-by-side table."""
    from fashionlens.evaluation import report
    from fashionlens.evaluation.honesty import verdict_line

    by_dataset = document["by_dataset"]
    if document["kind"] == "classifier":
        lines = [
            f"{name}\n  {verdict_line(m['honesty'])}{warning_lines(m['honesty']['warnings'])}"
            + "".join(f"\n  note: {note}" for note in m["honesty"]["notes"])
            for name, m in by_dataset.items()
        ]
        flat = {name: report.flatten(metrics) for name, metrics in by_dataset.items()}
        return "\n".join(lines) + "\n\n" + report.text_table(*report.side_by_side(flat, report.CLASSIFIER_ROWS))
    flat = {name: report.flatten(metrics) for name, metrics in by_dataset.items()}
    return report.text_table(*report.side_by_side(flat, report.detector_rows(document["class_names"])))


@app.command("evaluate")
def evaluate_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by `fashionlens train` (best.pt or last.pt)."),
    data: list[Path] = typer.Option(..., "--data", help=DATA_HELP + " Repeat to put datasets side by side."),
    split: str = typer.Option("val", "--split", help=SPLIT_HELP),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: RUN_DIR/eval)."),
    as_json: bool = typer.Option(False, "--json", help="Print metrics.json on stdout (messages go to stderr)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Images per inference batch."),
    label_map: Path | None = typer.Option(
        None,
        "--label-map",
        help="CSV (label,category) or YAML: a retailer's own label names onto the checkpoint's classes.",
    ),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda, cuda:1... (default: GPU if any)."),
    crops: bool = typer.Option(
        False,
        "--crops",
        help="Show an 'img' classifier each boxed garment's crop (as the Analyzer does) instead of the whole photo.",
    ),
) -> None:
    """Score a classifier or a detector on one or more datasets: metrics.json and report.html.

    Classifier: accuracy, top-3/5, balanced accuracy, macro F1, per-class scores,
    confusion matrix, ROC, and the honesty check (majority baseline, `collapsed`).
    Detector: COCO mAP, AP50 per region, precision-recall, FROC, image-level ROC.
    Labels of other datasets are mapped onto the checkpoint's classes.

    Example: fashionlens evaluate runs/clf --data labels.csv --data street.coco.json
    """
    out = out or run_dir / "eval"
    document, files = evaluate_run(run_dir, data, split, out, batch_size, label_map, device, crops)
    if as_json:
        typer.echo(files["metrics.json"], nl=False)
    else:
        typer.echo(terminal_summary(document))
    say(f"wrote {out / 'metrics.json'} and {out / 'report.html'}")


@app.command("compare")
def compare_command(
    run_a: Path = typer.Argument(..., help="Run directory of model A."),
    run_b: Path = typer.Argument(..., help="Run directory of model B (same classes as A)."),
    data: Path = typer.Option(..., "--data", help=DATA_HELP),
    split: str = typer.Option("val", "--split", help=SPLIT_HELP),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: RUN_A/compare-<RUN_B name>)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON on stdout."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Images per inference batch."),
    label_map: Path | None = typer.Option(None, "--label-map", help="CSV or YAML of a retailer's label names."),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda, cuda:1... (default: GPU if any)."),
) -> None:
    """Compare two classifiers item by item on the same data.

    Per class: items, both right, both wrong, only A right, only B right, and each
    model's accuracy; McNemar's test says whether the difference is more than chance.
    Writes cases.csv, compare.json and report.html.

    Example: fashionlens compare runs/img runs/img-bbox --data labels.csv
    """
    from fashionlens.evaluation import compare as case_table
    from fashionlens.evaluation import report
    from fashionlens.evaluation.honesty import verdict_line

    document = compare_runs(
        load_run(run_a), load_run(run_b), data, split, batch_size, load_label_map_option(label_map), device
    )
    out = out or run_a / f"compare-{run_b.resolve().name}"
    text = report.to_json(document)
    report.write_outputs(
        out,
        {
            "cases.csv": case_table.table_csv(document["cases"]),
            "compare.json": text,
            "report.html": report.compare_page(document),
        },
    )
    if as_json:
        typer.echo(text, nl=False)
    else:
        verdicts = [
            f"{label}: {document[key]['run_dir']}\n  {verdict_line(document[key]['honesty'])}"
            for label, key in (("A", "a"), ("B", "b"))
        ]
        p_value = report.format_value(document["mcnemar_p_value"])
        typer.echo(
            "\n".join(verdicts)
            + "\n\n"
            + case_table.format_table(document["cases"])
            + f"\n\nMcNemar exact test (only A right vs only B right): p = {p_value}"
        )
    say(f"wrote {out / 'cases.csv'} and {out / 'report.html'}")
