"""Experiments: which way of recommending works better, measured on the shop's own customers.

An experiment has two or more arms (each a set of recommendation settings and a share of the traffic),
a start and an end. A customer session is assigned to an arm by a hash of the experiment's name and the
session id the page keeps (no personal data), so the same session always sees the same arm, and the
shares hold over many sessions. Every shown and clicked event records its arm; an arm's click-through
is clicks per item shown (the "shown" events: cards the page displayed, not every item recommended, since
arms may differ in how many they send), with a 95% Wilson interval.

The comparison: the arm with the highest click-through against each other arm, Fisher's exact test on
the 2x2 table (clicked / not clicked per item shown), Holm-corrected over the comparisons, at level
ALPHA = 1%. Why 1% and not 5%: the dashboard is read again and again while events arrive, and every
reading is another chance to crown a winner by luck; the stricter level keeps the share of false
winners between equal arms low (the tests check at most 5% of 200 seeded runs). Until the best arm
beats every other at that level, with at least MIN_SHOWN items shown per arm, the verdict is "not enough
data yet", never "no difference".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from scipy.stats import binomtest, fisher_exact

from fashionlens.core.errors import FashionLensError

ALPHA = 0.01
MIN_SHOWN = 100  # items shown per arm before any verdict: a handful of clicks proves nothing
SETTINGS = {"k": int, "complete_look": bool, "weights": dict}  # what an arm may change, and its type
MAX_K = 20  # the service's own limit on products per list
WEIGHTS = ("category", "color", "pattern")  # catalog.recommend.SimilarRanking's weights an arm may set
HASH_SPACE = 2**64


@dataclass(frozen=True)
class Arm:
    name: str
    share: float
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    name: str
    arms: tuple[Arm, ...]
    start: str  # YYYY-MM-DD, inclusive
    end: str  # YYYY-MM-DD, inclusive

    def arm_for(self, session: str) -> Arm:
        """The session's arm: the same for the same session, in the arms' shares over many sessions."""
        digest = hashlib.sha256(f"{self.name}\0{session}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / HASH_SPACE
        total = 0.0
        for arm in self.arms:
            total += arm.share
            if point < total:
                return arm
        return self.arms[-1]  # rounding of the shares' sum

    def running_on(self, day: str) -> bool:
        return self.start <= day[:10] <= self.end

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start": self.start,
            "end": self.end,
            "arms": [{"name": a.name, "share": a.share, "settings": a.settings} for a in self.arms],
        }


def parse_experiment(document: Any, source: str = "experiment") -> Experiment:
    """An Experiment from its JSON form, checked: names, shares summing to 1, dates, known settings."""
    if not isinstance(document, dict):
        raise FashionLensError(f"{source}: expected a JSON object with name, arms, start and end")
    name = _text(document, "name", source)
    start, end = _day(document, "start", source), _day(document, "end", source)
    if end < start:
        raise FashionLensError(f"{source}: end {end} is before start {start}")
    arms = document.get("arms")
    if not isinstance(arms, list) or len(arms) < 2:
        raise FashionLensError(f"{source}: an experiment needs at least two arms")
    parsed = tuple(_arm(arm, f"{source} arm {i + 1}") for i, arm in enumerate(arms))
    if len({arm.name for arm in parsed}) < len(parsed):
        raise FashionLensError(f"{source}: arm names must differ")
    if abs(sum(arm.share for arm in parsed) - 1) > 1e-6:
        raise FashionLensError(f"{source}: the arms' shares sum to {sum(a.share for a in parsed):g}, not 1")
    return Experiment(name, parsed, start, end)


def _text(document: dict, key: str, source: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FashionLensError(f"{source}: {key!r} must be a non-empty text")
    return value.strip()


def _day(document: dict, key: str, source: str) -> str:
    text = _text(document, key, source)
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FashionLensError(f"{source}: {key} {text!r} is not a date (YYYY-MM-DD)") from None


def _arm(document: Any, source: str) -> Arm:
    if not isinstance(document, dict):
        raise FashionLensError(f"{source}: expected an object with name, share and settings")
    share = document.get("share")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise FashionLensError(f"{source}: share must be a number in (0, 1]")
    settings = document.get("settings", {})
    if not isinstance(settings, dict):
        raise FashionLensError(f"{source}: settings must be an object")
    for key, value in settings.items():
        expected = SETTINGS.get(key)
        if expected is None:
            raise FashionLensError(f"{source}: unknown setting {key!r}; choose from {', '.join(SETTINGS)}")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise FashionLensError(f"{source}: setting {key!r} must be {expected.__name__}")
    if not 1 <= settings.get("k", 1) <= MAX_K:
        raise FashionLensError(f"{source}: setting 'k' must be between 1 and {MAX_K}")
    for key, value in settings.get("weights", {}).items():
        if key not in WEIGHTS:
            raise FashionLensError(f"{source}: unknown weight {key!r}; choose from {', '.join(WEIGHTS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
            raise FashionLensError(f"{source}: weight {key!r} must be a number from 0 to 10")
    return Arm(_text(document, "name", source), float(share), settings)


def arm_counts(events: list[dict[str, Any]], experiment: Experiment) -> dict[str, dict[str, Any]]:
    """Per arm: sessions, items shown and clicks on them, from the events that record this experiment."""
    counts: dict[str, dict[str, Any]] = {
        arm.name: {"sessions": set(), "shown": 0, "clicks": 0} for arm in experiment.arms
    }
    for event in events:
        name = event.get("arm")
        recorded = event.get("experiment") == experiment.name
        arm = counts.get(name) if recorded and isinstance(name, str) else None
        if arm is None:
            continue
        if event.get("session"):
            arm["sessions"].add(event["session"])
        if event["kind"] == "shown":  # what the page displayed, not all it was sent (k may differ per arm)
            arm["shown"] += len(event.get("items", []))
        elif event["kind"] == "click":
            arm["clicks"] += 1
    return {name: {**c, "sessions": len(c["sessions"])} for name, c in counts.items()}


def experiment_report(events: list[dict[str, Any]], experiment: Experiment) -> dict[str, Any]:
    """Per arm: sessions, shown, clicks, click-through with its 95% interval; the comparison and verdict."""
    arms = []
    for name, c in arm_counts(events, experiment).items():
        rate, low, high = click_through_interval(c["clicks"], c["shown"])
        arms.append({"arm": name, **c, "click_through": rate, "interval_95": [low, high]})
    comparison = compare_arms(arms)
    return {
        "experiment": experiment.to_json(),
        "arms": arms,
        "comparison": comparison,
        "verdict": verdict(arms, comparison),
    }


def click_through_interval(clicks: int, shown: int) -> tuple[float | None, float | None, float | None]:
    if shown == 0:
        return None, None, None
    clicks = min(clicks, shown)  # a click without a recorded showing must not make a rate above 1
    interval = binomtest(clicks, shown).proportion_ci(confidence_level=0.95, method="wilson")
    return round(clicks / shown, 4), round(float(interval.low), 4), round(float(interval.high), 4)


def compare_arms(arms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The best arm against each other: Fisher's exact p-value, Holm-adjusted (step-down)."""
    measured = [a for a in arms if a["shown"]]
    if len(measured) < 2:
        return []
    best = max(measured, key=lambda a: a["click_through"])
    rows = []
    for other in measured:
        if other is not best:
            table = [
                [min(best["clicks"], best["shown"]), max(best["shown"] - best["clicks"], 0)],
                [min(other["clicks"], other["shown"]), max(other["shown"] - other["clicks"], 0)],
            ]
            rows.append({"best": best["arm"], "other": other["arm"], "p_value": float(fisher_exact(table)[1])})
    running = 0.0
    for rank, row in enumerate(sorted(rows, key=lambda r: r["p_value"])):
        running = max(running, min(1.0, row["p_value"] * (len(rows) - rank)))
        row["p_adjusted"] = running
    return rows


def verdict(arms: list[dict[str, Any]], comparison: list[dict[str, Any]]) -> dict[str, Any]:
    """{"winner": arm or None, "text": plain language}."""
    thin = [a["arm"] for a in arms if a["shown"] < MIN_SHOWN]
    if thin:
        return {"winner": None, "text": f"not enough data yet: {', '.join(thin)} showed fewer than {MIN_SHOWN} items"}
    if comparison and all(row["p_adjusted"] < ALPHA for row in comparison):
        best = comparison[0]["best"]
        rate = next(a["click_through"] for a in arms if a["arm"] == best)
        worst = max(row["p_adjusted"] for row in comparison)
        return {
            "winner": best,
            "text": f"{best} works better: click-through {rate:.1%}, ahead of every other "
            f"arm (Fisher's exact test, Holm-adjusted p = {worst:.2g} < {ALPHA})",
        }
    return {
        "winner": None,
        "text": "not enough data yet: no arm is ahead of all others at the 1% level; keep the experiment running",
    }


def stored_experiments(store: Any) -> list[Experiment]:
    return [
        parse_experiment(document, f"{getattr(store, 'path', 'catalogue')}: experiment")
        for document in store.experiments()
    ]


def add_experiment(store: Any, experiment: Experiment) -> None:
    """Save `experiment`; refused when its dates overlap another one's (a session would be in two arms
    whose settings disagree). Saving again under the same name replaces it."""
    for other in stored_experiments(store):
        if other.name != experiment.name and other.start <= experiment.end and experiment.start <= other.end:
            raise FashionLensError(
                f"experiment {experiment.name!r} ({experiment.start} to {experiment.end}) overlaps "
                f"{other.name!r} ({other.start} to {other.end}): one experiment at a time"
            )
    store.save_experiment(experiment.to_json())


def find_experiment(store: Any, name: str) -> Experiment:
    experiments = stored_experiments(store)
    for experiment in experiments:
        if experiment.name == name:
            return experiment
    known = ", ".join(e.name for e in experiments) or "none yet; add one with `fashionlens experiment add`"
    raise FashionLensError(f"no experiment {name!r}; experiments: {known}")


def session_arm(store: Any, session: str | None, day: str) -> tuple[Experiment, Arm] | None:
    """The running experiment and the session's arm in it; None without a session or a running experiment."""
    if not session:
        return None
    running = next((e for e in stored_experiments(store) if e.running_on(day)), None)
    return None if running is None else (running, running.arm_for(session))


def recommend_options(arm: Arm | None, k: int) -> dict[str, Any]:
    """catalog.recommend.recommend()'s keyword arguments for a session in `arm` (None: the defaults)."""
    from fashionlens.catalog.recommend import SimilarRanking

    settings = {} if arm is None else arm.settings
    return {
        "k": settings.get("k", k),
        "complete_look": settings.get("complete_look", True),
        "ranking": SimilarRanking(**settings.get("weights", {})),
    }


def format_report(report: dict[str, Any]) -> str:
    experiment = report["experiment"]
    lines = [
        f"experiment {experiment['name']} ({experiment['start']} to {experiment['end']})",
        f"  {'arm':<16} {'sessions':>8} {'shown':>7} {'clicks':>7}  click-through (95% interval)",
    ]
    for arm in report["arms"]:
        rate = (
            "n/a"
            if arm["click_through"] is None
            else f"{arm['click_through']:.1%} ({arm['interval_95'][0]:.1%} to {arm['interval_95'][1]:.1%})"
        )
        lines.append(f"  {arm['arm']:<16} {arm['sessions']:>8} {arm['shown']:>7} {arm['clicks']:>7}  {rate}")
    lines += [
        f"  {row['best']} vs {row['other']}: Fisher p = {row['p_value']:.3g}, Holm-adjusted {row['p_adjusted']:.3g}"
        for row in report["comparison"]
    ]
    lines.append(f"verdict: {report['verdict']['text']}")
    return "\n".join(lines)
