"""The catalogue: list and search (public), product images, status; import, update, delete (admin)."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import Annotated, Any, Callable
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fashionlens.catalog.store import CatalogItem, Filters, attributes_note
from fashionlens.core.records import REGIONS
from fashionlens.core.taxonomy import region_of
from fashionlens.inference.attributes import PatternName, SleeveName
from fashionlens.service.import_jobs import begin_import, import_records, new_import
from fashionlens.service.imports import Staging, forget_photo, run_import, stage_archive, stage_files
from fashionlens.service.limits import check_admin, read_upload
from fashionlens.service.schemas import CatalogStatus, Deleted, ErrorBody, ImportStatus, ItemList, ItemUpdate, Product
from fashionlens.service.state import ServiceState, service_state

router = APIRouter(tags=["catalogue"])
# app.py checks the key of these routes before their body is read, this dependency again after (and
# it puts the X-API-Key header into the OpenAPI page)
admin = APIRouter(
    tags=["catalogue (admin)"],
    dependencies=[Depends(check_admin)],
    responses={
        401: {"model": ErrorBody, "description": "Missing or wrong X-API-Key."},
        403: {"model": ErrorBody, "description": "The service has no admin key configured."},
    },
)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No product with this id."}}


def product_json(item: CatalogItem, score: float | None = None, why: dict | None = None) -> dict[str, Any]:
    """A product as the API shows it: the item without its server-side image path, plus its image URL."""
    data = {key: value for key, value in item.to_json().items() if key != "image"}
    data["image_url"] = f"/catalog/items/{quote(item.id, safe='')}/image"
    if score is not None:
        data.update(score=round(score, 4), why=why or {})
    return data


class ItemQuery(BaseModel):
    """The query parameters of GET /catalog/items: filters, search text and the page."""

    q: str | None = Field(None, max_length=200, description="Part of the name or id.")
    category: str | None = Field(None, max_length=100)
    region: str | None = Field(None, max_length=100)
    color: str | None = Field(None, max_length=100)
    pattern: PatternName | None = Field(None, description="solid, striped, checked...")
    sleeve: SleeveName | None = Field(None, description="sleeveless, short or long.")
    limit: int = Field(50, ge=1, le=500)
    # SQLite takes 64-bit integers: a larger offset was an OverflowError (500); no catalogue is near this size
    offset: int = Field(0, ge=0, le=1_000_000_000)

    def filters(self) -> Filters:
        if self.region is not None and self.region not in REGIONS:
            raise HTTPException(422, f"region {self.region!r}: choose one of {', '.join(REGIONS)}")
        return Filters(
            category=self.category or None,
            regions=None if self.region is None else (self.region,),
            color=self.color or None,
            pattern=self.pattern,
            sleeve=self.sleeve,
            text=self.q or None,
        )


@router.get("/catalog/items", response_model=ItemList)
async def list_items(
    query: Annotated[ItemQuery, Query()], state: ServiceState = Depends(service_state)
) -> dict[str, Any]:
    """The catalogue's products, filtered and searched, a page at a time."""
    filters = query.filters()
    total, items = await state.catalog.call(
        lambda store: (store.count(filters), store.find_items(filters, limit=query.limit, offset=query.offset))
    )
    return {"total": total, "items": [product_json(item) for item in items]}


async def stored_item(state: ServiceState, item_id: str) -> CatalogItem:
    found = await state.catalog.call(lambda store: store.get_items([item_id]))
    if item_id not in found:
        raise HTTPException(404, f"no product with id {item_id!r}")
    return found[item_id]


@router.get(
    "/catalog/items/{item_id:path}/image",
    response_class=FileResponse,
    responses={**NOT_FOUND, 200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "The product photo."}},
)
async def item_image(item_id: str, state: ServiceState = Depends(service_state)) -> FileResponse:
    """The product's photo as imported."""
    path = Path((await stored_item(state, item_id)).image)
    if not path.is_file():
        raise HTTPException(404, f"the photo of product {item_id!r} is missing on the server")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})


@router.get("/catalog/status", response_model=CatalogStatus)
async def catalog_status(state: ServiceState = Depends(service_state)) -> dict[str, Any]:
    """How many products, the model of their embeddings, and the last import through the service."""

    def read(store) -> dict[str, Any]:
        items, model, last = store.count(), store.model(), import_records(store, limit=1)
        note = attributes_note(store.path, model, state.analyzer.description) if items else None
        return {"items": items, "model": model, "last_import": last[0] if last else None, "note": note}

    return await state.catalog.call(read)


async def staged_upload(
    state: ServiceState, archive: UploadFile | None, csv: UploadFile | None, images: list[UploadFile]
) -> Callable[[Staging], Path]:
    """The uploaded files read into memory (each within the import limit); a function that stages them."""
    limit = state.settings.max_import_bytes
    if (archive is None) == (csv is None):
        raise HTTPException(422, "send either archive (a .zip) or csv with its images, as files")
    if archive is not None:
        name, data = await read_upload(archive, limit, "archive.zip")
        return lambda staging: stage_archive(staging, name, data, limit)
    assert csv is not None  # exactly one of archive and csv was sent
    csv_name, csv_data = await read_upload(csv, limit, "products.csv")
    photos = [await read_upload(image, limit, "photo") for image in images]
    return lambda staging: stage_files(staging, csv_name, csv_data, photos)


@admin.post(
    "/catalog/import",
    response_model=ImportStatus,
    responses={
        202: {"model": ImportStatus, "description": "With wait=false: the import runs (state 'running')."},
        409: {"model": ErrorBody, "description": "Another import is running."},
        413: {"model": ErrorBody, "description": "The upload is over the import limit."},
        422: {"model": ImportStatus, "description": "Refused: state 'refused' and the reason in 'error'."},
    },
)
async def import_products(
    archive: UploadFile | None = File(
        None, description="A .zip holding products.csv and the photos it names (paths relative to the CSV)."
    ),
    csv: UploadFile | None = File(None, description="Or: a product CSV (id,image[,name,price,category,url,...]) ..."),
    images: list[UploadFile] = File(
        [], description="... with its photos; the CSV's image column names their file names."
    ),
    on_model: bool = Form(
        False,
        description="false: each photo is one product (flat-lay, hanger or "
        "packshot photos), boxed apart from its background; true: "
        "photos of people wearing the products, the detector's "
        "garment of the product's category is indexed.",
    ),
    wait: bool = Query(
        True,
        description="true: answer with the import's outcome when it has finished; false: answer at once "
        "(202, Location: /catalog/imports/{id}) while the import runs as a job of the service.",
    ),
    state: ServiceState = Depends(service_state),
) -> Any:
    """Add or update products from uploaded files (never server paths or URLs). Good rows are imported,
    refused rows are listed with their CSV line; the catalogue is written in one transaction. Each import
    is a job recorded in the catalogue (GET /catalog/imports/{id}); it goes on if the client leaves."""
    stage = await staged_upload(state, archive, csv, images)
    record = new_import(on_model)
    if not await state.catalog.call(lambda store: begin_import(store, record)):
        raise HTTPException(409, "another import is running; try again when it has finished")
    job = state.imports.start(
        record["id"], run_in_threadpool(run_import, state.settings, state.analyzer, stage, dict(record))
    )
    if not wait:
        location = f"/catalog/imports/{record['id']}"
        return JSONResponse(ImportStatus(**record).model_dump(), status_code=202, headers={"Location": location})
    code, status = await asyncio.shield(job)  # a client that leaves stops waiting, not the import
    if code == 413:
        raise HTTPException(413, status["error"])
    return JSONResponse(ImportStatus(**status).model_dump(), status_code=code)


class ImportQuery(BaseModel):
    limit: int = Field(20, ge=1, le=500)


@admin.get("/catalog/imports", response_model=list[ImportStatus])
async def list_imports(
    query: Annotated[ImportQuery, Query()], state: ServiceState = Depends(service_state)
) -> list[dict[str, Any]]:
    """The imports through the service, newest first: running, done, refused or failed."""
    return await state.catalog.call(lambda store: import_records(store, limit=query.limit))


@admin.get(
    "/catalog/imports/{import_id}",
    response_model=ImportStatus,
    responses={404: {"model": ErrorBody, "description": "No import with this id."}},
)
async def import_status(import_id: str, state: ServiceState = Depends(service_state)) -> dict[str, Any]:
    """One import's state and outcome; poll it after POST /catalog/import?wait=false."""
    found = await state.catalog.call(lambda store: import_records(store, import_id))
    if not found:
        raise HTTPException(404, f"no import with id {import_id!r}")
    return found[0]


def updated_item(store, item_id: str, changes: dict[str, Any]) -> CatalogItem:
    """Write the changed fields (one transaction); the embedding stays, the region follows the category."""
    item = store.get_items([item_id]).get(item_id)
    if item is None:
        raise HTTPException(404, f"no product with id {item_id!r}")
    for name, value in changes.items():
        setattr(item, name, value)
    if "category" in changes:
        item.region = region_of(item.category) or item.region
    store.write_items([item], store.model())
    return item


@admin.put("/catalog/items/{item_id:path}", response_model=Product, responses=NOT_FOUND)
async def update_item(item_id: str, update: ItemUpdate, state: ServiceState = Depends(service_state)) -> dict:
    """Change a product's name, price, category or url (null clears the price)."""
    changes = update.model_dump(exclude_unset=True)
    if not changes:
        raise HTTPException(422, "nothing to update: send name, price, category or url")
    if any(value is None for name, value in changes.items() if name != "price"):
        raise HTTPException(422, "only price may be null")
    return product_json(await state.catalog.call(lambda store: updated_item(store, item_id, changes)))


@admin.delete("/catalog/items/{item_id:path}", response_model=Deleted, responses=NOT_FOUND)
async def delete_item(item_id: str, state: ServiceState = Depends(service_state)) -> dict[str, str]:
    """Remove a product from the catalogue, and its photo when it came with an upload and no other product
    uses it."""

    def remove(store) -> None:
        found = store.get_items([item_id])
        if item_id not in found:
            raise HTTPException(404, f"no product with id {item_id!r}")
        store.remove_items([item_id])
        forget_photo(state.settings.media, found[item_id].image, store)

    await state.catalog.call(remove)
    return {"deleted": item_id}
