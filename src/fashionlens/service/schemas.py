"""The JSON of every request and response (Pydantic), as docs/service.md describes it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from fashionlens.catalog.validation import check_price, check_url

# an analysed garment's schema is the Analyzer's own: one serialisation for the CLI, the API and the catalogue
from fashionlens.inference.schemas import AttributePrediction, CategoryScore, Garment, GarmentAttributes

Channel = Literal["online", "store"]
SESSION_LENGTH = 200


__all__ = ["AttributePrediction", "CategoryScore", "Garment", "GarmentAttributes"]  # with the service's own below


class ErrorBody(BaseModel):
    error: str = Field(description="One line saying what is wrong.")


class PhotoResponse(BaseModel):
    """What every answer about one photo starts with."""

    width: int
    height: int
    whole_image: bool = Field(description="Nothing detected (or no detector): the photo is one garment.")


class GarmentSaliency(BaseModel):
    """What the classifier looked at for one garment (POST /analyze?explain=1)."""

    garment: int = Field(ge=0, description="The garment's position in `garments`.")
    category: str = Field(description="The class explained: the garment's category.")
    view: list[int] = Field(
        min_length=4,
        max_length=4,
        description="left, top, right, bottom: the part of the photo the classifier saw "
        "(the garment's box grown by its context margin, or the whole photo).",
    )
    png: str = Field(
        description="Base64 PNG of that part with Grad-CAM heat colours (red: what made the "
        "classifier say `category`), at most 192 px on its longer side."
    )


class AnalyzeResponse(PhotoResponse):
    garments: list[Garment]
    saliency: list[GarmentSaliency] | None = Field(
        None, description="One per garment, in their order, with ?explain=1; null without."
    )


class Product(BaseModel):
    id: str
    name: str
    category: str | None
    region: str | None
    color: str | None
    pattern: str | None = Field(
        description="The product photo's pattern (solid, striped, checked, floral, dotted, "
        "graphic, other); null when the catalogue predates attributes."
    )
    sleeve: str | None = Field(description="sleeveless, short or long; null for garments without sleeves.")
    price: float | None
    url: str
    attributes: dict[str, str] = Field(description="The product CSV's own extra columns (e.g. kids).")
    image_url: str


class Recommended(Product):
    score: float = Field(description="The final ranking score; similar products come best first by it.")
    why: dict[str, Any] = Field(
        description="`reason`: why, in a sentence for the customer; then the category, "
        "colour and scores behind the rank."
    )


class GarmentRecommendations(BaseModel):
    garment: Garment
    similar: list[Recommended]
    complete_the_look: list[Recommended]


class SessionArm(BaseModel):
    experiment: str
    arm: str


class RecommendResponse(PhotoResponse):
    garments: list[GarmentRecommendations]
    note: str | None = Field(None, description="Why the lists are empty, when they are.")
    experiment: SessionArm | None = Field(
        None, description="The running experiment and the session's arm in it, whose settings made these lists."
    )


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
    state: Literal["running", "done", "refused", "failed"] = Field(
        description="running; done (products imported); refused (nothing imported: see error and "
        "refused_rows); failed (stopped by an internal error or a stopped worker: see error)."
    )
    on_model: bool = Field(
        False,
        description="The import's on_model field: the detector found the garment of "
        "each product's category; false: each photo is one product.",
    )
    imported: int = Field(description="Products added or changed.")
    unchanged: int
    refused_rows: list[RefusedRow]
    started: str
    finished: str | None = Field(None, description="Null while the import runs.")
    error: str | None = Field(None, description="Why nothing was imported (state 'refused' or 'failed').")


class CatalogStatus(BaseModel):
    items: int
    model: dict[str, Any] | None
    last_import: ImportStatus | None
    note: str | None = Field(
        None, description="What the catalogue needs, e.g. a reindex: its attributes came from other heads."
    )


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
    name: str | None = Field(None, description="The product's name; null when it left the catalogue.")
    shown: int
    clicks: int
    rate: float


class PeriodClicks(BaseModel):
    period: str = Field(description="A day (YYYY-MM-DD) or an ISO week (YYYY-Www), as `by` says.")
    recommended: int = Field(description="Items recommended in this period.")
    clicked: int = Field(
        description="Clicks on them (a click counts in the period of the item's latest recommendation before it)."
    )
    rate: float | None


class ClickThrough(BaseModel):
    recommended: int
    clicked: int
    rate: float | None
    clicks_not_recommended: int
    items: list[ItemClicks]
    periods: list[PeriodClicks]


class TrendChange(BaseModel):
    name: str
    previous_share: float
    current_share: float
    change: float
    p_value: float = Field(description="Fisher's exact test, this label's share in the two periods.")
    p_adjusted: float = Field(description="Benjamini-Hochberg adjusted over the labels compared.")
    direction: Literal["rising", "falling", "steady"]


class Trends(BaseModel):
    previous: str | None = Field(description="The period before the latest one with garments; null: too few.")
    current: str | None
    categories: list[TrendChange]
    colors: list[TrendChange]
    patterns: list[TrendChange]
    sleeves: list[TrendChange]


class Insights(BaseModel):
    events: int
    by_kind: dict[str, int]
    by_channel: dict[str, int]
    garments: int
    categories: dict[str, Share]
    regions: dict[str, Share]
    colors: dict[str, Share]
    patterns: dict[str, Share]
    sleeves: dict[str, Share]
    by: str
    trend: list[TrendRow]
    worn_together: list[WornTogether]
    click_through: ClickThrough
    trends: Trends
    charts: list[str] = Field(description="URLs of the PNG charts of the same query.")


class AudienceTrait(BaseModel):
    field: Literal["category", "color", "pattern"]
    value: str
    share: float = Field(description="The share of the audience's garments with this value.")
    lift: float = Field(description="That share over the share among all sessions.")


class AudienceClicks(BaseModel):
    shown: int = Field(description="Items recommended to the audience's sessions.")
    clicks: int
    rate: float | None


class Audience(BaseModel):
    id: str
    size: int = Field(description="Sessions in the audience.")
    share: float
    traits: list[AudienceTrait]
    products: list[str] = Field(description="Catalogue product ids to advertise to it.")
    click_through: AudienceClicks


class Audiences(BaseModel):
    sessions: int = Field(description="Sessions with analysed photos.")
    audiences: list[Audience]
    note: str | None = Field(description="Why there are no audiences yet.")


class RankingWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: float | None = Field(None, ge=0, le=10)
    color: float | None = Field(None, ge=0, le=10)
    pattern: float | None = Field(None, ge=0, le=10)


class ArmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int | None = Field(None, ge=1, le=20, description="Products per list.")
    complete_look: bool | None = Field(None, description="false: similar items only.")
    weights: RankingWeights | None = Field(None, description="The similar-items ranking's weights.")


class ArmDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    share: float = Field(gt=0, le=1, description="The share of sessions in this arm.")
    settings: ArmSettings = Field(default_factory=ArmSettings)


class ExperimentDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    start: str = Field(description="YYYY-MM-DD, inclusive.")
    end: str = Field(description="YYYY-MM-DD, inclusive.")
    arms: list[ArmDefinition] = Field(min_length=2, max_length=10)


class ArmResult(BaseModel):
    arm: str
    sessions: int
    shown: int = Field(description="Product cards the page displayed to the arm's sessions.")
    clicks: int
    click_through: float | None
    interval_95: list[float | None] = Field(description="Wilson 95% interval of the click-through.")


class ArmComparison(BaseModel):
    best: str
    other: str
    p_value: float = Field(description="Fisher's exact test, best arm against this one.")
    p_adjusted: float = Field(description="Holm-adjusted over the comparisons.")


class ExperimentVerdict(BaseModel):
    winner: str | None
    text: str


class ExperimentReport(BaseModel):
    experiment: ExperimentDefinition
    arms: list[ArmResult]
    comparison: list[ArmComparison]
    verdict: ExperimentVerdict
