"""One number of products per list everywhere: the command line, the service and the customer page."""

from __future__ import annotations

import re
from importlib import resources

import typer.main

from fashionlens.catalog import DEFAULT_K
from fashionlens.cli import app
from fashionlens.cli.demo import DemoSettings


def test_the_command_line_the_demo_and_the_page_share_one_default_k():
    recommend = typer.main.get_command(app).commands["recommend"]
    [k] = [param for param in recommend.params if param.name == "k"]
    assert k.default == DEFAULT_K and DemoSettings().k == DEFAULT_K
    page = resources.files("fashionlens.service").joinpath("static/index.html").read_text(encoding="utf-8")
    select = re.search(r'<select id="k".*?</select>', page, re.S).group(0)
    assert re.search(r"<option selected>(\d+)</option>", select).group(1) == str(DEFAULT_K)
