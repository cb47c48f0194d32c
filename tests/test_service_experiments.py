"""The service's experiments: a retailer puts one (admin), sessions get their arm's settings on
/recommend, shown and clicked cards count per arm, and the results and audiences are served."""

from __future__ import annotations

from datetime import date, timedelta

from service_testing import ADMIN_KEY, photo_bytes, tiny_client, upload

ADMIN = {"X-API-Key": ADMIN_KEY}
TODAY = date.today()


def definition(name: str = "look-or-not", start: date = TODAY - timedelta(days=1)) -> dict:
    return {
        "name": name,
        "start": start.isoformat(),
        "end": (start + timedelta(days=30)).isoformat(),
        "arms": [
            {"name": "with-look", "share": 0.5, "settings": {"k": 1}},
            {"name": "similar-only", "share": 0.5, "settings": {"k": 2, "complete_look": False}},
        ],
    }


def test_a_session_gets_its_arms_settings_and_its_events_count_in_its_arm(tmp_path):
    with tiny_client(tmp_path) as (client, _):
        refused = client.put("/experiments/look-or-not", json=definition())
        put = client.put("/experiments/look-or-not", json=definition(), headers=ADMIN)
        overlapping = client.put("/experiments/other", json=definition("other"), headers=ADMIN)
        sessions = {}
        for i in range(12):
            body = client.post(
                "/recommend", files=upload(photo_bytes((220, 40, 40))), data={"k": "4", "session": f"s{i}"}
            ).json()
            sessions[f"s{i}"] = body
        anonymous = client.post("/recommend", files=upload(photo_bytes((220, 40, 40))), data={"k": "4"}).json()
        arm_of = {s: body["experiment"]["arm"] for s, body in sessions.items()}
        one = next(s for s, arm in arm_of.items() if arm == "similar-only")
        shown = [p["id"] for p in sessions[one]["garments"][0]["similar"]]
        client.post("/events", json={"kind": "shown", "item_ids": shown, "session": one})
        client.post("/events", json={"kind": "click", "item_ids": shown[:1], "session": one})
        report = client.get("/insights/experiments/look-or-not").json()
        missing = client.get("/insights/experiments/nope")
        listed = client.get("/experiments").json()
        audiences = client.get("/insights/audiences").json()
        insights = client.get("/insights").json()
    assert refused.status_code == 401 and put.status_code == 200 and put.json()["arms"][1]["share"] == 0.5
    assert overlapping.status_code == 409 and "overlaps 'look-or-not'" in overlapping.json()["error"]
    assert set(arm_of.values()) == {"with-look", "similar-only"}
    for body in sessions.values():
        lists = body["garments"][0]
        if body["experiment"]["arm"] == "similar-only":
            assert len(lists["similar"]) == 2 and lists["complete_the_look"] == []
        else:
            assert len(lists["similar"]) == 1 and len(lists["complete_the_look"]) == 1
    assert anonymous["experiment"] is None and anonymous["garments"][0]["complete_the_look"]  # the defaults
    arms = {a["arm"]: a for a in report["arms"]}
    assert (arms["similar-only"]["shown"], arms["similar-only"]["clicks"]) == (2, 1)
    assert arms["with-look"]["shown"] == 0
    assert report["verdict"]["text"].startswith("not enough data yet")
    assert missing.status_code == 404 and "no experiment 'nope'" in missing.json()["error"]
    assert [e["name"] for e in listed] == ["look-or-not"]
    # twelve sessions of the same photo: one audience, wearing what the photo shows
    assert audiences["sessions"] == 12 and [a["size"] for a in audiences["audiences"]] == [12]
    assert audiences["audiences"][0]["click_through"]["clicks"] == 1
    assert set(insights["trends"]) == {"previous", "current", "categories", "colors", "patterns", "sleeves"}


def test_bad_experiments_are_refused_with_their_reason(tmp_path):
    shares = definition() | {"arms": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}]}
    unknown = definition() | {
        "arms": [{"name": "a", "share": 0.5, "settings": {"price": 1}}, {"name": "b", "share": 0.5}]
    }
    with tiny_client(tmp_path, catalogue=False) as (client, _):
        answers = [
            client.put("/experiments/look-or-not", json=body, headers=ADMIN)
            for body in (shares, unknown, definition("other"), definition() | {"start": "soon"})
        ]
    assert [a.status_code for a in answers] == [422, 422, 422, 422]
    assert "sum to 0.9" in answers[0].json()["error"]
    assert "other" in answers[2].json()["error"] and "not a date" in answers[3].json()["error"]
