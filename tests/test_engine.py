"""The engine with a toy task (a linear model on random vectors): run directory, guard, resume."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.train.engine import FitConfig, autocast_dtype, fit, make_loader


class ToyTask:
    """Cross-entropy on (vector, label) batches; optionally a NaN loss on chosen steps."""

    kind = "classifier"

    def __init__(self, class_names=("a", "b"), nan_steps=(), interrupt_at=None):
        self.class_names = list(class_names)
        self.nan_steps, self.interrupt_at, self.step = set(nan_steps), interrupt_at, 0

    def losses(self, model, batch, device):
        self.step += 1
        if self.step == self.interrupt_at:
            raise KeyboardInterrupt
        inputs, targets = batch
        loss = F.cross_entropy(model(inputs.to(device)), targets.to(device))
        return {"loss": loss * float("nan") if self.step in self.nan_steps else loss}

    def validate(self, model, loader, device):
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in loader)
        accuracy = correct / len(loader.dataset)
        return {"accuracy": accuracy, "score": accuracy}

    def checkpoint_extra(self):
        return {"arch": "linear", "class_names": self.class_names, "preprocessing": {}}


def toy_data(n=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 4, generator=generator)
    return TensorDataset(inputs, (inputs[:, 0] > 0).long())


def toy_model(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(4, 2)


def run(tmp_path, name, task=None, epochs=2, val=True, resume=False, model=None, ema_decay=None):
    train = make_loader(toy_data(), 4, shuffle=True)
    val_loader = make_loader(toy_data(8, seed=1), 4, shuffle=False) if val else None
    config = FitConfig(epochs=epochs, lr=0.1, seed=3, ema_decay=ema_decay, settings={"note": "toy"})
    return fit(model or toy_model(), task or ToyTask(), train, val_loader, config, tmp_path / name, resume=resume)


def test_fit_writes_the_run_directory(tmp_path):
    history = run(tmp_path, "run")
    run_dir = tmp_path / "run"
    for name in (
        "config.json",
        "history.csv",
        "history.json",
        "history.png",
        "loss.png",
        "score.png",
        "best.pt",
        "last.pt",
    ):
        assert (run_dir / name).is_file(), name
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[0]["images"] == 16 and history[0]["skipped_steps"] == 0
    assert json.loads((run_dir / "config.json").read_text())["settings"] == {"note": "toy"}
    assert json.loads((run_dir / "history.json").read_text()) == history
    csv_lines = (run_dir / "history.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and "train_loss" in csv_lines[0] and "val_score" in csv_lines[0]
    last = load_checkpoint(run_dir / "last.pt")
    assert last["epoch"] == 1 and last["class_names"] == ["a", "b"] and "optimizer" in last
    best = load_checkpoint(run_dir)
    assert best["path"].endswith("best.pt") and "optimizer" not in best
    assert best["metrics"]["score"] == max(row["val_score"] for row in history)


def test_without_validation_only_last_is_written(tmp_path, capsys):
    history = run(tmp_path, "run", val=False, epochs=1)
    assert not (tmp_path / "run" / "best.pt").exists()
    assert load_checkpoint(tmp_path / "run")["path"].endswith("last.pt")
    assert not any(key.startswith("val_") for key in history[0])
    assert "no validation split" in capsys.readouterr().err


def test_nonfinite_steps_are_skipped_and_counted(tmp_path):
    history = run(tmp_path, "run", task=ToyTask(nan_steps={2, 5}), epochs=2)
    assert [row["skipped_steps"] for row in history] == [1, 1]
    assert history[0]["images"] == 12  # the skipped batch of 4 did not train
    assert all(torch.isfinite(p).all() for p in load_checkpoint(tmp_path / "run")["model"].values())


def test_nonfinite_loss_that_keeps_happening_stops_with_a_clear_error(tmp_path):
    with pytest.raises(FashionLensError, match="not finite .* 3 steps in a row in epoch 1; lower --lr"):
        train = make_loader(toy_data(), 4, shuffle=True)
        fit(
            toy_model(),
            ToyTask(nan_steps={1, 2, 3, 4}),
            train,
            None,
            FitConfig(epochs=1, max_nonfinite_steps=3),
            tmp_path / "run",
        )
    assert not (tmp_path / "run" / "last.pt").exists()


def test_resume_repeats_an_uninterrupted_run(tmp_path):
    full = run(tmp_path, "full")
    with pytest.raises(KeyboardInterrupt):  # dies in the first step of epoch 2
        run(tmp_path, "cut", task=ToyTask(interrupt_at=5))
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] == 0
    resumed = run(tmp_path, "cut", resume=True, model=toy_model(seed=99))
    assert [row["epoch"] for row in resumed] == [1, 2]
    assert resumed[1]["train_loss"] == pytest.approx(full[1]["train_loss"], abs=1e-7)
    expected, got = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(tmp_path / "cut" / "last.pt")
    for name, tensor in expected["model"].items():
        assert torch.equal(tensor, got["model"][name]), name


def test_resume_needs_a_checkpoint_and_the_same_classes(tmp_path):
    with pytest.raises(FashionLensError, match="no last.pt to resume from"):
        run(tmp_path, "empty", resume=True)
    run(tmp_path, "run", epochs=1)
    with pytest.raises(FashionLensError, match="class_names .* differs"):
        run(tmp_path, "run", task=ToyTask(class_names=("a", "c")), resume=True)
    with pytest.raises(FashionLensError, match="already holds a run; pass --resume"):
        run(tmp_path, "run")


class WeightRecordingTask(ToyTask):
    """The toy task, keeping the weights each training step starts from."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def losses(self, model, batch, device):
        self.weights.append({name: tensor.detach().clone() for name, tensor in model.state_dict().items()})
        return super().losses(model, batch, device)


def test_ema_validates_and_saves_the_average_while_training_the_weights_as_without_it(tmp_path):
    task = WeightRecordingTask()
    history = run(tmp_path, "ema", task=task, ema_decay=0.5)
    run(tmp_path, "plain")
    last, plain = load_checkpoint(tmp_path / "ema" / "last.pt"), load_checkpoint(tmp_path / "plain" / "last.pt")
    for name, tensor in plain["model"].items():  # the average does not change what is trained
        assert torch.equal(last["trained_model"][name], tensor), name
    after_each_step = task.weights[1:] + [last["trained_model"]]  # 8 steps: 2 epochs of 4 batches
    assert len(after_each_step) == 8
    for name in plain["model"]:
        average = after_each_step[0][name]  # the first step copies, every later one averages
        for weights in after_each_step[1:]:
            average = 0.5 * average + 0.5 * weights[name]
        assert torch.allclose(last["model"][name], average, atol=1e-6), name
        assert not torch.allclose(last["model"][name], plain["model"][name])
    model = toy_model()
    model.load_state_dict(last["model"])
    assert (
        ToyTask().validate(model, make_loader(toy_data(8, seed=1), 4, shuffle=False), None)["score"]
        == history[-1]["val_score"]
    )  # validated: the average
    assert "trained_model" not in load_checkpoint(tmp_path / "ema" / "best.pt")


def test_resume_with_ema_repeats_an_uninterrupted_run(tmp_path):
    run(tmp_path, "full", ema_decay=0.5)
    with pytest.raises(KeyboardInterrupt):  # dies in the first step of epoch 2
        run(tmp_path, "cut", task=ToyTask(interrupt_at=5), ema_decay=0.5)
    run(tmp_path, "cut", resume=True, model=toy_model(seed=99), ema_decay=0.5)
    expected, got = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(tmp_path / "cut" / "last.pt")
    for key in ("model", "trained_model"):
        for name, tensor in expected[key].items():
            assert torch.allclose(tensor, got[key][name], atol=1e-7), (key, name)


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_an_ema_decay_outside_0_to_1_is_refused_before_training(tmp_path, decay):
    with pytest.raises(FashionLensError, match=f"--ema {decay} is not a decay between 0 and 1"):
        run(tmp_path, "run", ema_decay=decay)
    assert not (tmp_path / "run").exists()


class DtypeRecordingTask(ToyTask):
    """The toy task, noting the dtype the model computes in at each training step."""

    def __init__(self):
        super().__init__()
        self.dtypes = []

    def losses(self, model, batch, device):
        inputs, targets = batch
        logits = model(inputs.to(device))
        self.dtypes.append(logits.dtype)
        return {"loss": F.cross_entropy(logits.float(), targets.to(device))}


@pytest.mark.parametrize("precision", ["mixed", "float32"])
def test_precision_decides_the_compute_dtype_and_weights_stay_float32(tmp_path, precision):
    task, model = DtypeRecordingTask(), toy_model()
    config = FitConfig(epochs=1, lr=0.1, seed=3, precision=precision)
    fit(model, task, make_loader(toy_data(), 4, shuffle=True), None, config, tmp_path / precision)
    cpu_bfloat16 = autocast_dtype(torch.device("cpu"), "mixed")
    expected = cpu_bfloat16 if precision == "mixed" and cpu_bfloat16 is not None else torch.float32
    assert task.dtypes == [expected] * 4
    assert all(value.dtype == torch.float32 for value in load_checkpoint(tmp_path / precision)["model"].values())
    assert json.loads((tmp_path / precision / "config.json").read_text())["precision"] == precision


def test_cpu_mixed_precision_is_bfloat16_only_where_the_cpu_computes_it_natively():
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert autocast_dtype(torch.device("cpu"), "mixed") == (torch.bfloat16 if native else None)
    assert autocast_dtype(torch.device("cpu"), "float32") is None
    assert autocast_dtype(torch.device("cuda"), "mixed") == torch.float16
    with pytest.raises(FashionLensError, match="unknown --precision 'half'"):
        autocast_dtype(torch.device("cpu"), "half")
