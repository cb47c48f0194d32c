"""`catalog import` and `catalog reindex`: product rows -> analysed photos -> one transaction in the store.

A product CSV has the columns `id` and `image` (absolute, or relative to the CSV), optionally `name`,
`price`, `category`, `url`; every other column is kept as an attribute (`kids`, `in_stock`...). A
folder of photos imports each photo, its id the path without suffix, its category the class folder.
Bad rows are named with file, line and id; the good ones are imported (all or nothing with strict).
Everything is computed before the single write, so an import that fails half-way changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from fashionlens.catalog.store import CatalogItem, CatalogStore, attributes_note, model_mismatch
from fashionlens.catalog.validation import parse_price, url_problem
from fashionlens.core.errors import DataFormatError, FashionLensError, ImageError
from fashionlens.core.images import load_image
from fashionlens.core.taxonomy import region_of, to_clothing_label
from fashionlens.core.textfile import open_csv
from fashionlens.inference.analyzer import Analysis, AnalyzedGarment, Analyzer

REQUIRED = ("id", "image")
KNOWN = (*REQUIRED, "name", "price", "category", "url")


@dataclass
class ProductRow:
    source: Path
    line: int | None  # None: not read from a CSV (a folder of photos, a stored item)
    id: str
    image: Path
    name: str = ""
    price: float | None = None
    category: str | None = None
    url: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class BadRow:
    source: Path
    line: int | None
    id: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else str(self.source)
        return f"{where} (id {self.id or '?'}): {self.reason}"


class ImportRefused(FashionLensError):
    """A strict import with bad rows: nothing was written."""

    def __init__(self, message: str, bad: list[BadRow]):
        super().__init__(message)
        self.bad = bad


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)
    warnings: list[BadRow] = field(default_factory=list)  # imported, but worth a look (a blank photo)
    note: str | None = None  # about the whole catalogue: its attributes want `catalog reindex`

    @property
    def imported(self) -> int:
        return self.new + self.updated + self.unchanged

    def summary(self) -> str:
        warned = f", {len(self.warnings)} warnings" if self.warnings else ""
        return (
            f"imported {self.imported} items ({self.new} new, {self.updated} updated, {self.unchanged} "
            f"unchanged); {len(self.bad)} bad rows{warned}"
        )


def read_products(path: str | Path) -> tuple[list[ProductRow], list[BadRow]]:
    path = Path(path)
    if path.is_dir():
        return read_product_folder(path), []
    return read_product_csv(path)


def read_product_csv(path: Path) -> tuple[list[ProductRow], list[BadRow]]:
    """Rows and bad rows of a product CSV; a file without the required header is one error."""
    rows: list[ProductRow] = []
    bad: list[BadRow] = []
    first_line: dict[str, int] = {}
    with open_csv(path) as reader:
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise DataFormatError(path, f"the header needs the columns id,image (missing {','.join(missing)})", 1)
        for fields in reader:
            if any(value.strip() for value in fields):
                row = product_row(path, reader.line_num, header, fields, first_line)
                if isinstance(row, BadRow):
                    bad.append(row)
                else:
                    rows.append(row)
    if not rows and not bad:
        raise DataFormatError(path, "no product rows")
    return rows, bad


def product_row(
    path: Path, line: int, header: list[str], fields: list[str], first_line: dict[str, int]
) -> ProductRow | BadRow:
    values = dict(zip(header, (value.strip() for value in fields)))
    item_id = values.get("id", "")
    if len(fields) != len(header):
        return BadRow(path, line, item_id, f"expected {len(header)} columns, found {len(fields)}")
    if not item_id:
        return BadRow(path, line, "", "empty id")
    if item_id in first_line:
        return BadRow(path, line, item_id, f"duplicate id (first on line {first_line[item_id]})")
    first_line[item_id] = line
    if not values["image"]:
        return BadRow(path, line, item_id, "empty image path")
    try:
        price = parse_price(values.get("price", ""))
    except ValueError as error:
        return BadRow(path, line, item_id, str(error))
    link_problem = url_problem(values.get("url"))
    if link_problem:
        return BadRow(path, line, item_id, link_problem)
    image = Path(values["image"])
    return ProductRow(
        path,
        line,
        item_id,
        image if image.is_absolute() else path.parent / image,
        values.get("name", ""),
        price,
        values.get("category") or None,
        values.get("url", ""),
        {name: value for name, value in values.items() if name not in KNOWN},
    )


def read_product_folder(path: Path) -> list[ProductRow]:
    from torchvision.datasets.folder import IMG_EXTENSIONS  # torchvision's notion of an image file

    files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in IMG_EXTENSIONS)
    if not files:
        raise FashionLensError(f"{path}: no images in this folder")
    rows = []
    for file in files:
        relative = file.relative_to(path)
        category = relative.parts[0] if len(relative.parts) > 1 else None
        rows.append(ProductRow(path, None, relative.with_suffix("").as_posix(), file, file.stem, category=category))
    return rows


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def choose_garment(analysis: Analysis, category: str | None) -> AnalyzedGarment:
    """The garment to index on an on-model photo: the one the classifier names as the product's category
    (both read as the clothing photos' labels: a Jacket is Outwear), else one filed in that category's
    region (the region of the garment's category, else its detected region, as similar items are searched:
    a coat boxed as full-body is Outwear, an upper-body category), else the most confident; detections
    come ordered by score."""
    wanted, label = region_of(category), category and to_clothing_label(category)
    named = [g for g in analysis.garments if label and to_clothing_label(g.category) == label]
    filed = [g for g in analysis.garments if wanted is not None and (region_of(g.category) or g.region) == wanted]
    return (named or filed or analysis.garments)[0]


def item_of(row: ProductRow, digest: str, garment: AnalyzedGarment) -> CatalogItem:
    """The retailer's category decides the region; one with none (hats, shoes, bags) leaves the item out of
    the garment regions, rather than borrowing the region of whatever garment the classifier guessed."""
    return CatalogItem(
        id=row.id,
        image=str(row.image.resolve()),
        image_digest=digest,
        name=row.name,
        price=row.price,
        category=row.category,
        predicted_category=garment.category,
        region=region_of(row.category) if row.category else garment.region,
        url=row.url,
        attributes=row.attributes,
        color=garment.color.name,
        box=[round(v, 1) for v in garment.box.as_list()],
        embedding=garment.embedding,
        pattern=garment.pattern.name if garment.pattern else None,
        sleeve=garment.sleeve.name if garment.sleeve else None,
    )


def analyse_rows(
    rows: list[ProductRow], analyzer: Analyzer, reuse: dict[str, CatalogItem]
) -> tuple[list[CatalogItem], list[BadRow], list[BadRow]]:
    """A catalogue item per row whose photo can be used, the bad rows and the warnings (a photo with no
    product in it); each photo analysed once, in batches. `reuse`: stored items (by id) whose embedding
    still holds when photo and category are unchanged."""
    items: list[CatalogItem] = []
    bad: list[BadRow] = []
    pending: list[tuple[ProductRow, str]] = []
    warnings: list[BadRow] = []
    done: dict[str, Analysis] = {}
    # a context manager: an error clears the bar before its one line is printed
    with tqdm(total=len(rows), desc="embedding products", unit="photo", leave=False) as progress:
        for row in rows:
            try:
                digest = file_digest(row.image)
            except OSError:
                bad.append(BadRow(row.source, row.line, row.id, f"image not found: {row.image}"))
                progress.update()
                continue
            stored = reuse.get(row.id)
            if (
                stored is not None
                and stored.image_digest == digest
                and stored.category == row.category
                and (stored.pattern is not None or analyzer.attribute_heads is None)
            ):  # else: made before attributes
                garment_item = CatalogItem(**{**stored.__dict__, "key": None})
                items.append(replace_row(garment_item, row))
                progress.update()
                continue
            pending.append((row, digest))
            if len(pending) >= analyzer.batch_size:
                flush(pending, analyzer, done, items, bad, warnings, progress)
        flush(pending, analyzer, done, items, bad, warnings, progress)
    return items, bad, warnings


def replace_row(item: CatalogItem, row: ProductRow) -> CatalogItem:
    """A stored item with the row's current details (the photo and category are unchanged)."""
    item.image, item.name, item.price, item.url, item.attributes = (
        str(row.image.resolve()),
        row.name,
        row.price,
        row.url,
        row.attributes,
    )
    return item


def flush(
    pending: list, analyzer: Analyzer, done: dict[str, Analysis], items: list, bad: list, warnings: list, progress
) -> None:
    images, names = [], []
    for row, digest in pending:
        if digest in done or digest in names:
            continue
        try:
            images.append(load_image(row.image))
            names.append(digest)
        except ImageError as error:
            bad.append(BadRow(row.source, row.line, row.id, str(error)))
    if images:
        done.update((a.image, a) for a in analyzer.analyze(images, names))
    for row, digest in pending:
        if digest in done:
            items.append(item_of(row, digest, choose_garment(done[digest], row.category)))
            if done[digest].problem:
                warnings.append(
                    BadRow(row.source, row.line, row.id, f"{done[digest].problem}; imported as the whole photo")
                )
        progress.update()
    pending.clear()


def import_products(
    path: str | Path,
    store: CatalogStore,
    analyzer: Analyzer,
    strict: bool = False,
    products: tuple[list[ProductRow], list[BadRow]] | None = None,
) -> ImportReport:
    """Read, analyse, and write the good rows in one transaction (none with `strict` and a bad row).
    `products`: read_products(path) already read, by a caller that checks the file before loading models."""
    rows, bad = products if products is not None else read_products(path)
    stored_model = store.model()
    if stored_model and stored_model["id"] != analyzer.model_id and store.count():
        raise FashionLensError(model_mismatch(getattr(store, "path", path), stored_model, analyzer.description))
    existing = store.get_items([row.id for row in rows])
    items, image_bad, warnings = analyse_rows(rows, analyzer, existing)
    report = ImportReport(bad=sorted(bad + image_bad, key=lambda b: (b.line or 0, b.id)), warnings=warnings)
    if strict and report.bad:
        raise ImportRefused(f"{path}: {len(report.bad)} bad rows, nothing imported (--strict)", report.bad)
    changed = []
    for item in items:
        before = existing.get(item.id)
        if before is None:
            report.new += 1
        elif before.same_content(item):
            report.unchanged += 1
            continue
        else:
            report.updated += 1
        changed.append(item)
    if changed:
        store.write_items(changed, analyzer.description)
    report.note = attributes_note(getattr(store, "path", path), store.model(), analyzer.description)
    return report


def reindex(store: CatalogStore, analyzer: Analyzer) -> int:
    """Recompute every item's embedding with `analyzer`'s model, in one transaction."""
    stored = store.find_items()
    rows = [
        ProductRow(
            Path(item.image),
            None,
            item.id,
            Path(item.image),
            item.name,
            item.price,
            item.category,
            item.url,
            item.attributes,
        )
        for item in stored
    ]
    items, bad, _ = analyse_rows(rows, analyzer, {})
    if bad:
        raise FashionLensError(
            f"cannot reindex: {len(bad)} items have unusable photos (e.g. {bad[0]}); "
            "remove them with `fashionlens catalog remove` first"
        )
    store.write_items(items, analyzer.description, replace_model=True)
    return len(items)
