"""GET /health, POST /analyze and POST /recommend: a customer's photo -> garments -> catalogue products."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile
from torch import nn

from fashionlens.catalog import DEFAULT_K
from fashionlens.catalog.recommend import check_model, recommend
from fashionlens.catalog.store import Filters
from fashionlens.core.errors import FashionLensError
from fashionlens.core.files import atomic_write
from fashionlens.core.images import load_image
from fashionlens.inference.analyzer import Analysis
from fashionlens.insights.analytics import log_analysis, utc_now
from fashionlens.insights.experiments import recommend_options, session_arm
from fashionlens.service.limits import read_upload
from fashionlens.service.routes_catalog import product_json
from fashionlens.service.schemas import SESSION_LENGTH, AnalyzeResponse, Channel, ErrorBody, Health, RecommendResponse
from fashionlens.service.state import ServiceState, service_state

router = APIRouter(tags=["photos"])
# what a photo upload may answer besides 200 (all {"error": "..."}), for the OpenAPI page
PHOTO_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (413, "The upload or the image's pixel count is over the limit."),
        (422, "Not a usable image (empty, truncated, not an image) or a missing/invalid field."),
        (503, "Too many photos waiting; the Retry-After header says when to try again."),
    )
}
PHOTO = File(..., description="The customer's photo (JPEG, PNG, WebP...).")
CHANNEL = Form("online", description="Where the photo was taken: online or store.")
SESSION = Form(None, max_length=SESSION_LENGTH, description="A session id the customer consented to.")


@router.get("/health", response_model=Health)
async def health(state: ServiceState = Depends(service_state)) -> dict[str, Any]:
    """The service is up: the models it runs and the catalogue's size."""
    items = await state.catalog.call(lambda store: store.count())
    return {"status": "ok", "models": state.analyzer.description, "catalog_items": items}


def decode_photo(state: ServiceState, name: str, data: bytes):
    """The uploaded photo decoded (content checked: EXIF rotation, pixel limit), kept when the settings say so."""
    image = load_image(data, max_pixels=state.settings.max_pixels, name=name)
    if state.settings.store_photos:
        kept = state.settings.media / "photos" / f"{utc_now().replace(':', '')}-{uuid.uuid4().hex[:8]}.png"
        atomic_write(kept, lambda temporary: image.save(temporary, format="PNG"))
    return image


def analyse_photo(state: ServiceState, name: str, data: bytes) -> Analysis:
    """Decode and analyse one photo; a worker thread's job."""
    return state.analyzer.analyze([decode_photo(state, name, data)], [name])[0]


def explain_photo(state: ServiceState, name: str, data: bytes) -> tuple[Analysis, list[dict[str, Any]]]:
    """analyse_photo plus each garment's saliency map (explain.py) on the same photo, in one worker job."""
    from fashionlens.inference.explain import explain_analysis

    image = decode_photo(state, name, data)
    analysis = state.analyzer.analyze([image], [name])[0]
    return analysis, [
        {
            "garment": m.garment,
            "category": m.category,
            "view": list(m.view),
            "png": base64.b64encode(m.thumbnail_png(image)).decode("ascii"),
        }
        for m in explain_analysis(state.analyzer, image, analysis)
    ]


async def analysed(state: ServiceState, photo: UploadFile) -> Analysis:
    name, data = await read_upload(photo, state.settings.max_upload_bytes, "photo")
    return await state.queue.run(analyse_photo, state, name, data)


def photo_json(analysis: Analysis) -> dict[str, Any]:
    return {"width": analysis.width, "height": analysis.height, "whole_image": not analysis.detected}


@router.post("/analyze", response_model=AnalyzeResponse, responses=PHOTO_ERRORS)
async def analyze(
    photo: UploadFile = PHOTO,
    channel: Channel = CHANNEL,
    session: str | None = SESSION,
    explain: bool = Query(
        False,
        description="Also answer what the classifier looked at for each garment (`saliency`: Grad-CAM heat maps, PNG).",
    ),
    log: bool = Form(
        True,
        description="Log an insights event; false when asking again about a "
        "photo already logged (the page's 'what the model "
        "looked at').",
    ),
    state: ServiceState = Depends(service_state),
) -> dict[str, Any]:
    """The garments in a photo: box, region, category (top 3), dominant colour, and with ?explain=1 what
    the model looked at. Logs an insights event (what was seen, never the photo)."""
    saliency = None
    if explain:
        if not isinstance(state.analyzer.classifier, nn.Module):
            raise HTTPException(
                422,
                "explain=1 needs the service started with --backend torch (saliency maps "
                "need the PyTorch model's gradients)",
            )
        name, data = await read_upload(photo, state.settings.max_upload_bytes, "photo")
        analysis, saliency = await state.queue.run(explain_photo, state, name, data)
    else:
        analysis = await analysed(state, photo)
    if log:
        await state.catalog.call(lambda store: log_analysis(store, [analysis], channel, session))
    return {**photo_json(analysis), "garments": [g.to_json() for g in analysis.garments], "saliency": saliency}


def check_catalogue_model(store, model: dict[str, Any]) -> bool:
    """False for an empty catalogue; 409 when its embeddings come from another model than the service's."""
    if store.count() == 0:
        return False
    try:
        check_model(store, model)
    except FashionLensError as error:
        raise HTTPException(409, str(error)) from None
    return True


@router.post(
    "/recommend",
    response_model=RecommendResponse,
    responses={**PHOTO_ERRORS, 409: {"model": ErrorBody, "description": "The catalogue was made by another model."}},
)
async def recommend_products(
    photo: UploadFile = PHOTO,
    k: int = Form(DEFAULT_K, ge=1, le=20, description="Products per list and garment."),
    kids: bool = Form(
        False,
        description="Kids' products only; by default adults' only "
        "(products whose kids attribute is true are "
        "left out).",
    ),
    channel: Channel = CHANNEL,
    session: str | None = SESSION,
    state: ServiceState = Depends(service_state),
) -> dict[str, Any]:
    """For each garment of the photo: the k most similar products (best first) and k that complete the
    look, each with why. Logs a recommendation event with the products recommended. With a session id
    during an experiment, the session's arm decides k, complete-the-look and the ranking's weights."""
    model = state.analyzer.description
    filled = await state.catalog.call(lambda store: check_catalogue_model(store, model))  # before the model work
    analysis = await analysed(state, photo)

    def pick(store) -> tuple[list, Any]:
        arm = session_arm(store, session, utc_now())
        options = recommend_options(arm and arm[1], k)
        found = recommend(analysis, state.catalog.index(), filters=Filters(kids=kids), **options) if filled else []
        shown = list(dict.fromkeys(item_id for garment in found for item_id in garment.item_ids))
        log_analysis(store, [analysis], channel, session, shown, arm=arm)
        return found, arm

    found, arm = await state.catalog.call(pick)
    experiment = None if arm is None else {"experiment": arm[0].name, "arm": arm[1].name}
    if filled:
        garments = [
            {
                "garment": r.garment.to_json(),
                "similar": [product_json(p.item, p.score, p.why) for p in r.similar],
                "complete_the_look": [product_json(p.item, p.score, p.why) for p in r.complete_the_look],
            }
            for r in found
        ]
    else:
        garments = [{"garment": g.to_json(), "similar": [], "complete_the_look": []} for g in analysis.garments]
    return {
        **photo_json(analysis),
        "garments": garments,
        "note": None if filled else "the catalogue is empty",
        "experiment": experiment,
    }
