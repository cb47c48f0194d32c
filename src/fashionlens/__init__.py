"""fashionlens: detect, classify and recommend garments in fashion photos."""

__version__ = "0.1.0"
