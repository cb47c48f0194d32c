"""Experiments: sessions hash to arms in their shares, and the verdict names a winner only when the data
say so (a seeded simulation with a real 2-point difference, and 200 with none)."""

from __future__ import annotations

import numpy as np
import pytest

from fashionlens.core.errors import FashionLensError
from fashionlens.insights.experiments import Arm, Experiment, compare_arms, experiment_report, parse_experiment, verdict

DEFINITION = {
    "name": "ranking-2026",
    "start": "2026-11-01",
    "end": "2026-12-31",
    "arms": [
        {"name": "A", "share": 0.7, "settings": {"k": 5}},
        {"name": "B", "share": 0.3, "settings": {"k": 5, "complete_look": False}},
    ],
}


def test_sessions_hash_to_arms_in_the_configured_shares_and_stably():
    experiment = parse_experiment(DEFINITION)
    sessions = [f"session-{i}" for i in range(10_000)]
    arms = [experiment.arm_for(s).name for s in sessions]
    assert arms.count("A") / len(arms) == pytest.approx(0.7, abs=0.02)
    assert [experiment.arm_for(s).name for s in sessions[:500]] == arms[:500]
    renamed = Experiment("another", experiment.arms, experiment.start, experiment.end)
    assert [renamed.arm_for(s).name for s in sessions[:500]] != arms[:500]  # a new experiment reshuffles


@pytest.mark.parametrize(
    "change, words",
    [
        ({"arms": DEFINITION["arms"][:1]}, "at least two arms"),
        ({"arms": [{"name": "A", "share": 0.5}, {"name": "B", "share": 0.4}]}, "sum to 0.9"),
        ({"arms": [{"name": "A", "share": 0.5}, {"name": "A", "share": 0.5}]}, "must differ"),
        (
            {"arms": [{"name": "A", "share": 0.5, "settings": {"colour": 1}}, {"name": "B", "share": 0.5}]},
            "unknown setting 'colour'",
        ),
        ({"arms": [{"name": "A", "share": 0.5, "settings": {"k": "5"}}, {"name": "B", "share": 0.5}]}, "must be int"),
        ({"start": "2026-13-01"}, "not a date"),
        ({"end": "2026-10-01"}, "before start"),
        ({"name": ""}, "'name' must be a non-empty text"),
    ],
)
def test_bad_definitions_are_refused_with_the_reason(change, words):
    with pytest.raises(FashionLensError, match=words):
        parse_experiment(DEFINITION | change, "exp.json")


def simulated_events(rates: dict[str, float], sessions: int, seed: int) -> list[dict]:
    """Each session sees one page of 5 items in its arm and clicks each with its arm's true rate."""
    experiment = parse_experiment(DEFINITION | {"arms": [{"name": n, "share": 1 / len(rates)} for n in rates]})
    rng = np.random.default_rng(seed)
    events = []
    for i in range(sessions):
        session = f"s{seed}-{i}"
        arm = experiment.arm_for(session).name
        base = {"experiment": experiment.name, "arm": arm, "session": session, "time": "2026-11-02T10:00:00Z"}
        events.append(base | {"kind": "shown", "items": [f"item{j}" for j in range(5)]})
        events += [base | {"kind": "click", "item": f"item{j}"} for j in range(5) if rng.random() < rates[arm]]
    return experiment, events


def test_a_better_arm_is_named_once_enough_events_arrive_and_not_before():
    experiment, events = simulated_events({"A": 0.10, "B": 0.12}, sessions=8_000, seed=3)
    early = experiment_report(events[:300], experiment)
    assert early["verdict"]["winner"] is None and early["verdict"]["text"].startswith("not enough data yet")
    report = experiment_report(events, experiment)
    assert report["verdict"]["winner"] == "B"
    by_arm = {a["arm"]: a for a in report["arms"]}
    assert by_arm["B"]["sessions"] + by_arm["A"]["sessions"] == 8_000
    b = by_arm["B"]
    low, high = b["interval_95"]
    half_width = 1.96 * (b["click_through"] * (1 - b["click_through"]) / b["shown"]) ** 0.5
    assert low < b["click_through"] < high and high - low == pytest.approx(2 * half_width, rel=0.02)


def test_equal_arms_rarely_get_a_winner():
    rng = np.random.default_rng(0)
    winners = 0
    for _ in range(200):
        shown = 20_000
        arms = [{"arm": name, "shown": shown, "clicks": int(rng.binomial(shown, 0.1))} for name in ("A", "B")]
        for arm in arms:
            arm["click_through"] = arm["clicks"] / arm["shown"]
        winners += verdict(arms, compare_arms(arms))["winner"] is not None
    assert winners <= 10  # at most 5% of 200


def test_three_arms_are_compared_best_against_each_with_holm():
    arms = [
        {"arm": n, "shown": 5000, "clicks": c, "click_through": c / 5000}
        for n, c in (("A", 500), ("B", 600), ("C", 505))
    ]
    rows = compare_arms(arms)
    assert [r["other"] for r in rows] == ["A", "C"] and all(r["best"] == "B" for r in rows)
    smaller = min(rows, key=lambda r: r["p_value"])
    assert smaller["p_adjusted"] == pytest.approx(min(1, 2 * smaller["p_value"]))
    assert verdict(arms, rows)["winner"] == "B"


def test_events_of_other_experiments_are_not_counted():
    experiment = parse_experiment(DEFINITION)
    events = [
        {"kind": "shown", "items": ["x"], "experiment": "other", "arm": "A", "session": "s"},
        {"kind": "shown", "items": ["x", "y"], "experiment": experiment.name, "arm": "A", "session": "s"},
    ]
    arms = {a["arm"]: a for a in experiment_report(events, experiment)["arms"]}
    assert arms["A"]["shown"] == 2 and arms["B"]["shown"] == 0 and arms["B"]["click_through"] is None


def test_experiments_are_stored_one_at_a_time_and_events_carry_the_arm(tmp_path):
    from fashionlens.catalog.store import SQLiteStore
    from fashionlens.insights.analytics import log_click, log_shown
    from fashionlens.insights.experiments import add_experiment, find_experiment, recommend_options, session_arm

    store = SQLiteStore(tmp_path / "shop.db", create=True)
    experiment = parse_experiment(DEFINITION)
    add_experiment(store, experiment)
    assert find_experiment(store, "ranking-2026") == experiment
    with pytest.raises(FashionLensError, match="overlaps 'ranking-2026'"):
        add_experiment(
            store, parse_experiment(DEFINITION | {"name": "other", "start": "2026-12-30", "end": "2027-01-10"})
        )
    with pytest.raises(FashionLensError, match="no experiment 'nope'; experiments: ranking-2026"):
        find_experiment(store, "nope")
    assert session_arm(store, "s1", "2027-02-01T00:00:00Z") is None  # after its end
    assert session_arm(store, None, "2026-11-05") is None
    running, arm = session_arm(store, "s1", "2026-11-05T10:00:00Z")
    assert running == experiment and arm == experiment.arm_for("s1")
    log_shown(store, ["a", "b"], "online", "s1", arm=(running, arm))
    log_click(store, "a", "online", "s1", arm=(running, arm))
    report = experiment_report(store.events(), experiment)
    counted = {a["arm"]: (a["sessions"], a["shown"], a["clicks"]) for a in report["arms"]}
    assert counted[arm.name] == (1, 2, 1)
    options = recommend_options(Arm("B", 0.5, {"k": 8, "complete_look": False, "weights": {"color": 0.5}}), k=4)
    assert options["k"] == 8 and options["complete_look"] is False and options["ranking"].color == 0.5
    assert recommend_options(None, k=4)["k"] == 4


def test_cli_adds_and_lists_experiments_and_names_a_bad_file(tmp_path, capsys):
    import json

    from fashionlens.catalog.store import SQLiteStore
    from helpers import run_cli

    SQLiteStore(tmp_path / "shop.db", create=True).close()
    good, bad = tmp_path / "exp.json", tmp_path / "bad.json"
    good.write_text(json.dumps(DEFINITION))
    bad.write_text('{"name": "x",\n "arms": [}')
    code, out, _ = run_cli(capsys, "experiment", "add", str(good), "--catalog", str(tmp_path / "shop.db"))
    assert code == 0 and "ranking-2026: 2 arms, 2026-11-01 to 2026-12-31" in out
    code, out, _ = run_cli(capsys, "experiment", "list", "--json", "--catalog", str(tmp_path / "shop.db"))
    assert code == 0 and json.loads(out)[0]["arms"][1]["settings"] == {"k": 5, "complete_look": False}
    code, _, err = run_cli(capsys, "experiment", "add", str(bad), "--catalog", str(tmp_path / "shop.db"))
    assert code != 0 and "bad.json:2: not valid JSON" in err and "Traceback" not in err


def test_insights_reports_an_experiment_and_audiences_from_the_command_line(tmp_path, capsys):
    import json

    from fashionlens.catalog.store import SQLiteStore
    from fashionlens.insights.experiments import add_experiment
    from helpers import planted_events, run_cli

    path = tmp_path / "shop.db"
    store = SQLiteStore(path, create=True)
    experiment, events = simulated_events({"A": 0.10, "B": 0.30}, sessions=200, seed=1)
    add_experiment(store, experiment)
    for event in events + planted_events()[0]:
        data = {k: v for k, v in event.items() if k not in ("time", "kind", "session")}
        store.add_event(event["time"], event["kind"], "online", event.get("session"), data)
    store.close()
    code, out, _ = run_cli(capsys, "insights", "--catalog", str(path), "--experiment", experiment.name, "--json")
    report = json.loads(out)
    assert code == 0 and report["verdict"]["winner"] == "B"
    assert sum(a["sessions"] for a in report["arms"]) == 200
    code, out, _ = run_cli(capsys, "insights", "--catalog", str(path), "--audiences", "--out", str(tmp_path / "ads"))
    assert code == 0 and out.startswith("audiences (90 sessions):") and len(out.splitlines()) == 4
    assert (tmp_path / "ads" / "audiences.csv").read_text().count("\n") == 4
