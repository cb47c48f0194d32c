"""The `train` commands' options and the settings dataclasses agree: every default is written once, in the field."""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import typer.main

from fashionlens.cli import train_detector
from fashionlens.cli.app import app
from fashionlens.models import detector
from fashionlens.train.settings import ClassifierSettings, DetectorSettings, settings_from_options

CLI_ONLY = {"out", "resume", "workers", "as_json"}  # how to run, not what to train: never in config.json
SETTINGS_ONLY = {"command", "context_margin"}  # recorded by the CLI itself, or not offered as an option
REQUIRED = {"data"}  # required by the settings, optional on the command line (--resume needs none)


def option_defaults(kind: str) -> dict[str, object]:
    command = typer.main.get_command(app).commands["train"].commands[kind]
    return {param.name: param.default for param in command.params}


@pytest.mark.parametrize(
    ("kind", "settings_class"), [("classifier", ClassifierSettings), ("detector", DetectorSettings)]
)
def test_every_settings_field_is_an_option_with_the_same_default(kind, settings_class):
    options = option_defaults(kind)
    settings_fields = {field.name: field for field in fields(settings_class)}
    assert set(options) - CLI_ONLY == set(settings_fields) - SETTINGS_ONLY
    for name, field in settings_fields.items():
        if name in SETTINGS_ONLY or name in REQUIRED:
            continue
        assert field.default is not MISSING, name
        assert options[name] == field.default, name


def test_options_become_settings_by_name():
    settings = settings_from_options(
        ClassifierSettings,
        {"data": "labels.csv", "classes": "T-Shirt, Pants,", "extra_data": [], "weights": Path("w.pth"), "out": "x"},
    )
    assert settings == ClassifierSettings(data="labels.csv", classes=["T-Shirt", "Pants"], weights="w.pth")


def test_the_detector_architectures_written_out_match_the_models():
    assert train_detector.ARCHS == tuple(detector.ARCHS)
