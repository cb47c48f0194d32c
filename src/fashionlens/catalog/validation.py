"""What a product's price and link may be: the one rule the CSV import, the service's schema and the
store itself apply.

A price is a finite number >= 0: NaN, infinities and 1e999 (which float() reads as infinity) would be
stored, break the price filters and make the JSON output invalid. A link is http(s) only: the
customer page puts it in an <a href>, where `javascript:` would run in the shop's page.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

URL_SCHEMES = ("http", "https")


def price_problem(price: float | None, shown: str | None = None) -> str | None:
    """Why `price` cannot be stored, or None (no price is fine); `shown`: the text it was read from."""
    if price is None:
        return None
    shown = shown if shown is not None else repr(price)
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return f"price {shown} is not a number"
    if not math.isfinite(price):
        return f"price {shown} is not a finite number"
    if price < 0:
        return f"price {shown} is negative"
    return None


def parse_price(text: str) -> float | None:
    """A CSV's price cell as a number (empty: no price); ValueError saying what is wrong."""
    text = text.strip()
    if not text:
        return None
    try:
        price = float(text)
    except ValueError:
        raise ValueError(f"price {text!r} is not a number") from None
    problem = price_problem(price, repr(text))
    if problem:
        raise ValueError(problem)
    return price


def url_problem(url: str | None) -> str | None:
    """Why `url` cannot be a product's link, or None (no link is fine)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"url {url!r} is not a valid URL"
    if parts.scheme.lower() not in URL_SCHEMES or not parts.netloc:
        return f"url {url[:100]!r} must be an http:// or https:// address"
    if any(character.isspace() or ord(character) < 32 for character in url):
        return f"url {url[:100]!r} contains spaces or control characters"
    return None


def is_link(url: str | None) -> bool:
    """Whether a page may show `url` as a link (a stored catalogue may predate the rule)."""
    return bool(url) and url_problem(url) is None


def check_price(price: float | None) -> float | None:
    """price_problem() as a validator (Pydantic's field validators raise ValueError)."""
    problem = price_problem(price)
    if problem:
        raise ValueError(problem)
    return price


def check_url(url: str | None) -> str | None:
    problem = url_problem(url)
    if problem:
        raise ValueError(problem)
    return url
