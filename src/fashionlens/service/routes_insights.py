"""GET /insights (+ its PNG charts) and POST /events: what customers wear and which products they click."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from fashionlens.insights.analytics import CHARTS, chart_names, chart_png, log_click, log_shown, summarize, utc_now
from fashionlens.insights.audiences import audiences
from fashionlens.insights.experiments import session_arm
from fashionlens.service.schemas import Audiences, ErrorBody, EventIn, Insights, Logged
from fashionlens.service.state import ServiceState, service_state

router = APIRouter(tags=["insights"])
SINCE = Query(None, description="Only events from this date on (YYYY-MM-DD).")
BY = Query("day", description="Trend periods: day or week.")


async def summary(state: ServiceState, since: date | None, by: str) -> dict[str, Any]:
    """summarize() of the events since `since`, computed again only when an event was added since."""
    start = None if since is None else since.isoformat()
    key = (start, by, await state.catalog.call(lambda store: store.last_event_key()))
    if key not in state.summaries:
        events = await state.catalog.call(lambda store: store.events(start))
        state.summaries = {key: summarize(events, by)}  # one is enough: a dashboard and its charts share it
    return copy.deepcopy(state.summaries[key])  # the caller may add to it


@router.get("/insights", response_model=Insights, responses={422: {"model": ErrorBody}})
async def insights(
    since: date | None = SINCE, by: Literal["day", "week"] = BY, state: ServiceState = Depends(service_state)
) -> dict[str, Any]:
    """Category, region and colour shares, trend, categories worn together, click-through (overall, per
    item, per period); the URLs of the charts there is something to draw for (none without events)."""
    data = await summary(state, since, by)
    await name_items(state, data["click_through"]["items"])
    query = urlencode({"by": by, **({"since": since.isoformat()} if since else {})})
    names = chart_names(data) if data["events"] else []
    data["charts"] = [f"/insights/charts/{name}.png?{query}" for name in names]
    return data


async def name_items(state: ServiceState, items: list[dict[str, Any]]) -> None:
    """The products' names beside their ids (events record ids only): the dashboard shows what they are."""
    found = await state.catalog.call(lambda store: store.get_items([item["id"] for item in items]))
    for item in items:
        product = found.get(item["id"])
        item["name"] = None if product is None else product.name or None


@router.get("/insights/audiences", response_model=Audiences, responses={422: {"model": ErrorBody}})
async def audience_groups(since: date | None = SINCE, state: ServiceState = Depends(service_state)) -> dict[str, Any]:
    """Customer sessions grouped by what they wear (categories and colours of their analysed photos;
    never a photo): each audience's size, traits, products to advertise and click-through so far."""
    start = None if since is None else since.isoformat()
    return await state.catalog.call(lambda store: audiences(store.events(start), store))


@router.get(
    "/insights/charts/{name}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The chart."}, 404: {"model": ErrorBody}},
)
async def chart(
    name: str, since: date | None = SINCE, by: Literal["day", "week"] = BY, state: ServiceState = Depends(service_state)
) -> Response:
    """A chart of GET /insights (shares, trend or click_through) for the same since/by."""
    if name not in CHARTS:
        raise HTTPException(404, f"no chart {name!r}; charts: {', '.join(CHARTS)}")
    data = await summary(state, since, by)
    if name not in chart_names(data):
        raise HTTPException(404, f"no {name} chart: no products were recommended in these events")
    png = await run_in_threadpool(chart_png, data, name)  # a Figure of its own: charts drawn in parallel
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-cache"})


@router.post("/events", response_model=Logged, status_code=202, responses={422: {"model": ErrorBody}})
async def events(event: EventIn, state: ServiceState = Depends(service_state)) -> dict[str, int]:
    """Products a page showed, or the one clicked; click-through counts clicks on recommended products."""

    def log(store) -> None:
        arm = session_arm(store, event.session, utc_now())  # counted in the session's experiment arm
        if event.kind == "click":
            for item_id in event.item_ids:
                log_click(store, item_id, event.channel, event.session, arm=arm)
        else:
            log_shown(store, event.item_ids, event.channel, event.session, arm=arm)

    await state.catalog.call(log)
    return {"logged": len(event.item_ids)}
