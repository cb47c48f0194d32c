"""The JSON of every request and response (Pydantic), as docs/service.md describes it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..catalog.validation import check_price, check_url

Channel = Literal["online", "store"]
SESSION_LENGTH = 200


class ErrorBody(BaseModel):
    error: str = Field(description="One line saying what is wrong.")


class CategoryScore(BaseModel):
    category: str
    score: float


class Garment(BaseModel):
    box: list[float] = Field(description="x1, y1, x2, y2 in pixels of the uploaded photo after EXIF rotation.")
    region: str | None
    region_score: float | None = Field(description="The detector's score for this box (how sure it is that the "
                                                   "box holds a garment of this region); null when nothing was "
                                                   "detected and the whole photo is one garment.")
    category: str
    category_score: float = Field(description="The classifier's probability for `category` (within the region's "
                                              "categories), not a statement about the box.")
    top_categories: list[CategoryScore]
    color: str = Field(description="The garment's colour name (StreetStyle-27K's 13 names).")
    color_score: float = Field(description="The colour-naming model's probability for `color`.")
    color_share: float = Field(description="The share of the garment's pixels in its largest colour cluster.")
    color_rgb: str = Field(description="That cluster's colour, #rrggbb: the swatch.")


class PhotoResponse(BaseModel):
    """What every answer about one photo starts with."""

    width: int
    height: int
    whole_image: bool = Field(description="Nothing detected (or no detector): the photo is one garment.")


class AnalyzeResponse(PhotoResponse):
    garments: list[Garment]


class Product(BaseModel):
    id: str
    name: str
    category: str | None
    region: str | None
    color: str | None
    price: float | None
    url: str
    attributes: dict[str, str]
    image_url: str


class Recommended(Product):
    score: float = Field(description="The final ranking score; similar products come best first by it.")
    why: dict[str, Any] = Field(description="`reason`: why, in a sentence for the customer; then the category, "
                                            "colour and scores behind the rank.")


class GarmentRecommendations(BaseModel):
    garment: Garment
    similar: list[Recommended]
    complete_the_look: list[Recommended]


class RecommendResponse(PhotoResponse):
    garments: list[GarmentRecommendations]
    note: str | None = Field(None, description="Why the lists are empty, when they are.")


class ItemList(BaseModel):
    total: int = Field(description="Items matching the query, before limit and offset.")
    items: list[Product]


class ModelInfo(BaseModel):
    id: str
    classifier: str | None
    detector: str | None


class Health(BaseModel):
    status: Literal["ok"]
    models: ModelInfo
    catalog_items: int


class RefusedRow(BaseModel):
    line: int | None = Field(description="1-based line of the product CSV.")
    error: str


class ImportStatus(BaseModel):
    id: str
    state: Literal["done", "refused"]
    on_model: bool = Field(False, description="The import's on_model field: the detector found the garment of "
                                              "each product's category; false: each photo is one product.")
    imported: int = Field(description="Products added or changed.")
    unchanged: int
    refused_rows: list[RefusedRow]
    started: str
    finished: str
    error: str | None = Field(None, description="Why nothing was imported (state 'refused').")


class CatalogStatus(BaseModel):
    items: int
    model: dict[str, Any] | None
    last_import: ImportStatus | None


class ItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=500)
    # the catalogue's own rules (catalog.validation): a finite price >= 0, an http(s) link
    price: Annotated[float | None, AfterValidator(check_price)] = Field(None, ge=0)
    category: str | None = Field(None, min_length=1, max_length=100)
    url: Annotated[str | None, AfterValidator(check_url)] = Field(None, max_length=2000)


class Deleted(BaseModel):
    deleted: str


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["shown", "click"]
    item_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=100)
    channel: Channel = "online"
    session: str | None = Field(None, max_length=SESSION_LENGTH)


class Logged(BaseModel):
    logged: int


class Share(BaseModel):
    count: int
    share: float


class TrendRow(BaseModel):
    period: str
    events: int
    garments: int
    categories: dict[str, int]


class WornTogether(BaseModel):
    categories: list[str]
    count: int


class ItemClicks(BaseModel):
    id: str
    shown: int
    clicks: int
    rate: float


class PeriodClicks(BaseModel):
    period: str = Field(description="A day (YYYY-MM-DD) or an ISO week (YYYY-Www), as `by` says.")
    recommended: int = Field(description="Items recommended in this period.")
    clicked: int = Field(description="Clicks on them (a click counts in the period of the item's latest "
                                     "recommendation before it).")
    rate: float | None


class ClickThrough(BaseModel):
    recommended: int
    clicked: int
    rate: float | None
    clicks_not_recommended: int
    items: list[ItemClicks]
    periods: list[PeriodClicks]


class Insights(BaseModel):
    events: int
    by_kind: dict[str, int]
    by_channel: dict[str, int]
    garments: int
    categories: dict[str, Share]
    regions: dict[str, Share]
    colors: dict[str, Share]
    by: str
    trend: list[TrendRow]
    worn_together: list[WornTogether]
    click_through: ClickThrough
    charts: list[str] = Field(description="URLs of the PNG charts of the same query.")
