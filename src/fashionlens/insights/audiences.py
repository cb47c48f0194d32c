"""Audiences for targeted advertising: customers grouped by what they wear.

Each customer session (the id the page keeps; no personal data) is described by what the analyses of
its photos found: the share of its garments in each category, colour and pattern. Derived labels only,
never a photo. Sessions are grouped with scikit-learn's k-means, the number of groups chosen by the
silhouette score (2 to MAX_AUDIENCES); each audience gets its size, what characterises it (the labels
most over-represented against all sessions), the catalogue products to advertise to it (its leading
category in its leading colour, then in any colour) and the click-through of what it was shown so far.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import numpy as np

MIN_SESSIONS = 6  # fewer sessions than this: no grouping is meaningful
MAX_AUDIENCES = 8
TRAITS = 3  # labels named per audience
PRODUCTS = 5  # products to advertise per audience
FIELDS = ("category", "color", "pattern")


def session_profiles(events: list[dict[str, Any]]) -> dict[str, Counter]:
    """session -> Counter of "category:Dress", "color:Blue" over the garments of its analysed photos."""
    profiles: dict[str, Counter] = {}
    for event in events:
        if event.get("session") and event.get("garments"):
            profile = profiles.setdefault(event["session"], Counter())
            profile.update(f"{field}:{g[field]}" for g in event["garments"] for field in FIELDS if g.get(field))
    return {session: profile for session, profile in profiles.items() if profile}


def profile_matrix(profiles: dict[str, Counter]) -> tuple[list[str], list[str], np.ndarray]:
    """(sessions, labels, rows): each row the session's shares within each field (rows of one field sum to 1)."""
    sessions = sorted(profiles)
    labels = sorted({label for profile in profiles.values() for label in profile})
    rows = np.zeros((len(sessions), len(labels)))
    column = {label: j for j, label in enumerate(labels)}
    for i, session in enumerate(sessions):
        for field in FIELDS:
            chosen = {label: n for label, n in profiles[session].items() if label.startswith(field + ":")}
            total = sum(chosen.values())
            for label, n in chosen.items():
                rows[i, column[label]] = n / total
    return sessions, labels, rows


def cluster(rows: np.ndarray) -> np.ndarray:
    """Group labels per row: k-means (seeded) with the k of the best silhouette score."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    best: tuple[float, np.ndarray] | None = None
    distinct = len(np.unique(rows, axis=0))  # k-means cannot make more groups than distinct profiles
    for k in range(2, min(MAX_AUDIENCES, len(rows) - 1, distinct) + 1):
        groups = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(rows)
        if len(set(groups)) < 2:
            continue
        score = float(silhouette_score(rows, groups))
        if best is None or score > best[0]:
            best = (score, groups)
    return best[1] if best is not None else np.zeros(len(rows), dtype=int)


def audiences(events: list[dict[str, Any]], store: Any | None = None) -> dict[str, Any]:
    """{"sessions", "audiences": [{id, size, share, traits, products, click_through}], "note"}."""
    profiles = session_profiles(events)
    if len(profiles) < MIN_SESSIONS:
        return {
            "sessions": len(profiles),
            "audiences": [],
            "note": f"not enough sessions yet: {len(profiles)} with analysed photos, {MIN_SESSIONS} needed",
        }
    sessions, labels, rows = profile_matrix(profiles)
    groups = cluster(rows)
    overall = rows.mean(axis=0)
    found: list[dict[str, Any]] = []
    for group in sorted(set(groups), key=lambda g: (-int(np.sum(groups == g)), g)):
        members = [s for s, g in zip(sessions, groups) if g == group]
        mean = rows[groups == group].mean(axis=0)
        found.append(
            {
                "size": len(members),
                "share": round(len(members) / len(sessions), 4),
                "traits": traits(labels, mean, overall),
                "sessions": members,
            }
        )
    for number, audience in enumerate(found, start=1):
        audience["id"] = f"audience-{number}"
        audience["products"] = products_for(audience["traits"], store)
        audience["click_through"] = session_click_through(events, set(audience.pop("sessions")))
    return {"sessions": len(sessions), "audiences": found, "note": None}


def traits(labels: list[str], mean: np.ndarray, overall: np.ndarray) -> list[dict[str, Any]]:
    """The audience's labels worn by a good share of it, most over-represented first."""
    lift = np.divide(mean, overall, out=np.zeros_like(mean), where=overall > 0)
    order = sorted((j for j in range(len(labels)) if mean[j] >= 0.2), key=lambda j: (-lift[j], labels[j]))
    return [
        {
            "field": labels[j].split(":")[0],
            "value": labels[j].split(":", 1)[1],
            "share": round(float(mean[j]), 4),
            "lift": round(float(lift[j]), 2),
        }
        for j in order[:TRAITS]
    ]


def products_for(audience_traits: list[dict[str, Any]], store: Any | None) -> list[str]:
    """Product ids to advertise: the leading category in the leading colour, then in any colour."""
    if store is None:
        return []
    from fashionlens.catalog.store import Filters

    category = next((t["value"] for t in audience_traits if t["field"] == "category"), None)
    color = next((t["value"] for t in audience_traits if t["field"] == "color"), None)
    if category is None:
        return []
    chosen: list[str] = []
    for filters in (Filters(category=category, color=color), Filters(category=category)):
        chosen += [item.id for item in store.find_items(filters, limit=PRODUCTS) if item.id not in chosen]
    return chosen[:PRODUCTS]


def session_click_through(events: list[dict[str, Any]], sessions: set[str]) -> dict[str, Any]:
    """Clicks per item recommended to the sessions (as insights.click_through counts them)."""
    shown = sum(
        len(e.get("recommended", [])) for e in events if e.get("session") in sessions and e["kind"] == "recommendation"
    )
    clicks = sum(1 for e in events if e.get("session") in sessions and e["kind"] == "click")
    return {"shown": shown, "clicks": clicks, "rate": round(min(clicks, shown) / shown, 4) if shown else None}


def audiences_csv(result: dict[str, Any]) -> str:
    """audience,size,share,traits,products,shown,clicks,click_through: one row per audience."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["audience", "size", "share", "traits", "products", "shown", "clicks", "click_through"])
    for a in result["audiences"]:
        described = "; ".join(f"{t['field']}={t['value']} ({t['share']:.0%}, x{t['lift']})" for t in a["traits"])
        ctr = a["click_through"]
        writer.writerow(
            [
                a["id"],
                a["size"],
                a["share"],
                described,
                " ".join(a["products"]),
                ctr["shown"],
                ctr["clicks"],
                "" if ctr["rate"] is None else ctr["rate"],
            ]
        )
    return buffer.getvalue()


def format_audiences(result: dict[str, Any]) -> list[str]:
    if result["note"]:
        return [f"audiences: {result['note']}"]
    lines = [f"audiences ({result['sessions']} sessions):"]
    for a in result["audiences"]:
        described = ", ".join(
            f"{t['value']}{' pattern' if t['field'] == 'pattern' else ''} {t['share']:.0%}" for t in a["traits"]
        )
        rate = a["click_through"]["rate"]
        lines.append(
            f"  {a['id']}: {a['size']} sessions ({a['share']:.0%}) wear {described}; "
            f"click-through {'n/a' if rate is None else f'{rate:.1%}'}; "
            f"advertise {', '.join(a['products']) or '(no matching product)'}"
        )
    return lines
