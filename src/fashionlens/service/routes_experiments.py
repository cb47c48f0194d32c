"""Experiments on recommendations: GET /experiments, PUT /experiments/{name} (admin) and
GET /insights/experiments/{name} (each arm's click-through and the verdict)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from fashionlens.core.errors import FashionLensError
from fashionlens.insights.experiments import add_experiment, experiment_report, find_experiment, parse_experiment
from fashionlens.service.limits import check_admin
from fashionlens.service.schemas import ErrorBody, ExperimentDefinition, ExperimentReport
from fashionlens.service.state import ServiceState, service_state

router = APIRouter(tags=["experiments"])
admin = APIRouter(
    tags=["experiments (admin)"],
    dependencies=[Depends(check_admin)],
    responses={
        401: {"model": ErrorBody, "description": "Missing or wrong X-API-Key header."},
        403: {"model": ErrorBody, "description": "The service has no admin key configured."},
    },
)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such experiment."}}


@router.get("/experiments", response_model=list[ExperimentDefinition])
async def experiments(state: ServiceState = Depends(service_state)) -> list[dict[str, Any]]:
    """Every experiment of the catalogue: name, dates, arms with their shares and settings."""
    return await state.catalog.call(lambda store: store.experiments())


@admin.put(
    "/experiments/{name}",
    response_model=ExperimentDefinition,
    responses={
        409: {"model": ErrorBody, "description": "Its dates overlap another experiment's."},
        422: {"model": ErrorBody},
    },
)
async def put_experiment(
    name: str, definition: ExperimentDefinition, state: ServiceState = Depends(service_state)
) -> dict[str, Any]:
    """Add or replace an experiment; sessions are assigned to its arms from its start date."""
    if definition.name != name:
        raise HTTPException(422, f"the body's name {definition.name!r} is not the path's {name!r}")
    try:
        experiment = parse_experiment(definition.model_dump(exclude_none=True), f"experiment {name!r}")
    except FashionLensError as error:
        raise HTTPException(422, str(error)) from None

    def save(store) -> dict[str, Any]:
        try:
            add_experiment(store, experiment)
        except FashionLensError as error:
            raise HTTPException(409, str(error)) from None
        return experiment.to_json()

    return await state.catalog.call(save)


@router.get("/insights/experiments/{name}", response_model=ExperimentReport, responses=NOT_FOUND)
async def experiment_results(name: str, state: ServiceState = Depends(service_state)) -> dict[str, Any]:
    """Per arm: sessions, cards shown, clicks, click-through with its 95% interval; the best arm against
    each other (Fisher's exact test, Holm-adjusted) and the verdict, "not enough data yet" until it is."""

    def report(store) -> dict[str, Any]:
        try:
            experiment = find_experiment(store, name)
        except FashionLensError as error:
            raise HTTPException(404, str(error)) from None
        return experiment_report(store.events(experiment.start), experiment)

    return await state.catalog.call(report)
