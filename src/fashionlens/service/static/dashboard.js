// The retailer page: key numbers and the server's insight charts (GET insights), trends, audiences
// (GET insights/audiences), experiments (GET experiments, insights/experiments/NAME), the catalogue with
// a search box (GET catalog/items) and the state of the last import (GET catalog/status).
import { el, getJSON, percent, price, productImage, showError } from "./api.js";

const PAGE_SIZE = 25;
const TOP_PRODUCTS = 8;
const SEARCH_DELAY_MS = 250;
const CHART_TITLES = {
  shares: "Shares of the garments seen: categories, regions, colours",
  trend: "Events and leading categories over time",
  categories: "Categories of the garments seen",
  trends: "Trends over time",
  click_through: "Click-through of recommendations",
};

const insightsForm = document.getElementById("insights-form");
const searchBox = document.getElementById("search");
const previous = document.getElementById("previous");
const next = document.getElementById("next");
let offset = 0;
let searchTimer = null;

async function loadInsights() {
  const query = new URLSearchParams({ by: document.getElementById("by").value });
  const since = document.getElementById("since").value;
  if (since) query.set("since", since);
  const errorBox = document.getElementById("insights-error");
  showError(errorBox, "");
  try {
    const [insights, status] = await Promise.all([getJSON(`insights?${query}`), getJSON("catalog/status")]);
    showNumbers(insights, status);
    showCharts(insights.charts ?? []);
    showClicked(insights.click_through);
    showTogether(insights.worn_together ?? []);
    showTrends(insights.trends);
    showImport(status);
    const [groups, experiments] = await Promise.all([getJSON(`insights/audiences?${query}`), getJSON("experiments")]);
    showAudiences(groups);
    showExperiments(await Promise.all(experiments.map((e) => getJSON(`insights/experiments/${encodeURIComponent(e.name)}`))));
  } catch (error) {
    showError(errorBox, error.message);
  }
}

function showTrends(trends) {
  const box = document.getElementById("trends");
  if (!trends?.current) {
    box.replaceChildren(el("p", { class: "muted" }, "Trends need garments in two periods (days or weeks)."));
    return;
  }
  const moving = [...trends.categories, ...trends.colors].filter((row) => row.direction !== "steady");
  box.replaceChildren(
    el("p", { class: "muted" }, `${trends.current} against ${trends.previous}; only changes that are significant ` +
      "(Fisher's exact test, Benjamini-Hochberg adjusted p < 0.05) are listed."),
    moving.length
      ? table(["", "Now", "Before", "Change"], moving.map((row) => [
        `${row.direction === "rising" ? "▲" : "▼"} ${row.name}`, percent(row.current_share),
        percent(row.previous_share), `${row.change > 0 ? "+" : ""}${Math.round(row.change * 100)} pt`]), [1, 2, 3])
      : el("p", {}, "Nothing is rising or falling significantly yet."));
}

function showAudiences(result) {
  const box = document.getElementById("audiences");
  if (!result.audiences.length) {
    box.replaceChildren(el("p", { class: "muted" }, `No audiences yet: ${result.note}.`));
    return;
  }
  box.replaceChildren(table(["Audience", "Visits", "They wear", "Advertise", "Click-through"],
    result.audiences.map((a) => [a.id, `${a.size} (${percent(a.share)})`,
      a.traits.map(traitText).join(", "), a.products.join(", ") || "–",
      a.click_through.rate === null ? "–" : `${rate(a.click_through.rate)} of ${a.click_through.shown}`]), [1, 4]));
}

// "Dress 25%", "Black 48%", "striped pattern 30%": a pattern's name alone ("other") would not say what it is
const traitText = (t) => `${t.value}${t.field === "pattern" ? " pattern" : ""} ${percent(t.share)}`;

function showExperiments(reports) {
  const box = document.getElementById("experiments");
  if (!reports.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No experiment yet: add one with `fashionlens experiment add` " +
      "or PUT /experiments/NAME."));
    return;
  }
  box.replaceChildren(...reports.map((report) => el("div", { class: "experiment" },
    el("h3", {}, `${report.experiment.name} (${report.experiment.start} to ${report.experiment.end})`),
    table(["Arm", "Visits", "Cards shown", "Clicks", "Click-through (95% interval)"],
      report.arms.map((arm) => [arm.arm, arm.sessions, arm.shown, arm.clicks, arm.click_through === null ? "–"
        : `${rate(arm.click_through)} (${rate(arm.interval_95[0])} to ${rate(arm.interval_95[1])})`]), [1, 2, 3, 4]),
    el("p", { class: report.verdict.winner ? "verdict good" : "verdict" }, report.verdict.text))));
}

function showNumbers(insights, status) {
  const kinds = insights.by_kind ?? {};
  const ctr = insights.click_through ?? {};
  const numbers = [
    ["Events", insights.events],
    ["Photos analysed", (kinds.analysis ?? 0) + (kinds.recommendation ?? 0)],
    ["Garments seen", insights.garments],
    ["Products recommended", ctr.recommended ?? 0],
    ["Clicks on them", ctr.clicked ?? 0],
    ["Click-through", ctr.rate === null || ctr.rate === undefined ? "–" : rate(ctr.rate)],
    ["Catalogue items", status.items],
  ];
  const list = document.getElementById("numbers");
  list.replaceChildren(...numbers.map(([name, value]) =>
    el("div", { class: "number-tile" }, el("dt", {}, name), el("dd", {}, value))));
  list.removeAttribute("aria-busy");
}

function showCharts(urls) {
  const box = document.getElementById("charts");
  if (!urls.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No events yet: the charts appear once customers use the photo search."));
    return;
  }
  const fresh = Date.now(); // a refresh must not show the browser's cached chart
  box.replaceChildren(...urls.map((url) => {
    const name = url.split("/").pop().replace(/\.png.*$/, "");
    const title = CHART_TITLES[name] ?? name.replaceAll("_", " ");
    const source = new URL(url, document.baseURI);
    source.searchParams.set("t", fresh);
    const image = el("img", { src: source.href, alt: `Chart: ${title}`,
      "data-chart": name });
    image.addEventListener("error", () => image.replaceWith(el("p", { class: "error" }, `The ${title} chart could not be loaded.`)));
    return el("figure", { class: "chart" }, image, el("figcaption", {}, title));
  }));
}

// Two lists, because with few clicks the most recommended products would pass for the most clicked:
// products customers clicked (by clicks), and products the service recommended (by times shown).
function showClicked(ctr) {
  const items = ctr?.items ?? [];
  const clicked = items.filter((item) => item.clicks > 0).slice(0, TOP_PRODUCTS);
  document.getElementById("clicked").replaceChildren(clicked.length
    ? table(["Product", "Clicks", "Recommended", "Click-through"],
      clicked.map((item) => [product(item), item.clicks, item.shown, rate(item.rate)]), [1, 2, 3])
    : el("p", { class: "muted" }, items.length
      ? `No clicks yet: ${ctr.recommended} products recommended so far.` : "No recommendations yet."));
  const shown = [...items].sort((a, b) => b.shown - a.shown || a.id.localeCompare(b.id)).slice(0, TOP_PRODUCTS);
  document.getElementById("recommended").replaceChildren(shown.length
    ? table(["Product", "Recommended", "Clicks"], shown.map((item) => [product(item), item.shown, item.clicks]), [1, 2])
    : el("p", { class: "muted" }, "No recommendations yet."));
}

// a product as the shop knows it: thumbnail and name (the id when it has none, or left the catalogue)
function product(item) {
  const name = item.name ?? item.id;
  return el("span", { class: "product" },
    el("img", { src: productImage(item), alt: "", loading: "lazy", width: 40, height: 40 }),
    el("span", {}, name, item.name ? el("small", { class: "muted" }, ` ${item.id}`) : ""));
}

function showTogether(pairs) {
  document.getElementById("together").replaceChildren(pairs.length
    ? table(["Categories", "Looks"], pairs.slice(0, 8).map((pair) => [pair.categories.join(" + "), pair.count]), [1])
    : el("p", { class: "muted" }, "No photo with two garments yet."));
}

function table(headers, rows, numeric = []) {
  const cell = (tag, value, index) => el(tag, numeric.includes(index) ? { class: "number" } : {}, value);
  return el("table", { class: "small-table" },
    el("thead", {}, el("tr", {}, headers.map((h, i) => cell("th", h, i)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((value, i) => cell("td", value, i))))));
}

function showImport(status) {
  const last = status.last_import;
  const model = status.model?.id ? `model ${status.model.id}` : "no model yet";
  const parts = [el("strong", {}, `${status.items} items`), ` in the catalogue (${model}). `];
  if (!last) {
    parts.push("No import through the service yet.");
  } else if (last.state === "running") {
    parts.push(`An import is running (started ${when(last.started)}).`);
  } else {
    parts.push(`Last import (${last.state}, ${when(last.finished ?? last.started)}): ${last.imported} imported, ` +
      `${last.unchanged} unchanged, ${last.refused_rows.length} refused.`);
    if (last.error) parts.push(` ${last.error}`);
  }
  const box = document.getElementById("import-status");
  box.replaceChildren(el("p", {}, parts));
  if (status.note) box.append(el("p", { class: "note" }, status.note));
  const refused = last?.refused_rows ?? [];
  if (refused.length) {
    box.append(el("ul", { class: "refused" }, refused.slice(0, 5).map((row) => el("li", {}, `line ${row.line}: ${row.error}`))));
  }
}

// click-through rates are often below 10%: one decimal there, so 0.8% does not read as 1%
const rate = (value) => (value > 0 && value < 0.1 ? `${(value * 100).toFixed(1)}%` : percent(value));
// "2026-11-28T00:22:24Z" -> "2026-11-28 00:22 UTC"
const when = (time) => (time ? `${time.slice(0, 10)} ${time.slice(11, 16)} UTC` : "time unknown");

async function loadCatalog() {
  const query = new URLSearchParams({ limit: PAGE_SIZE, offset });
  const text = searchBox.value.trim();
  if (text) query.set("q", text);
  const errorBox = document.getElementById("catalog-error");
  showError(errorBox, "");
  try {
    const page = await getJSON(`catalog/items?${query}`);
    document.querySelector("#catalog tbody").replaceChildren(...page.items.map(catalogRow));
    const last = Math.min(offset + page.items.length, page.total);
    document.getElementById("catalog-count").textContent = page.total
      ? `${offset + 1}–${last} of ${page.total} items${text ? ` matching “${text}”` : ""}`
      : (text ? `No item matches “${text}”.` : "The catalogue is empty.");
    previous.disabled = offset === 0;
    next.disabled = last >= page.total;
  } catch (error) {
    showError(errorBox, error.message);
  }
}

function catalogRow(item) {
  const name = item.name || item.id;
  return el("tr", {},
    el("td", {}, el("img", { src: productImage(item), alt: name, loading: "lazy", width: 48, height: 48 })),
    el("td", {}, el("code", {}, item.id)), el("td", {}, name), el("td", {}, item.category ?? ""),
    el("td", {}, item.region ?? "–"), el("td", {}, item.color ?? ""), el("td", { class: "number" }, price(item.price)));
}

insightsForm.addEventListener("submit", (event) => {
  event.preventDefault();
  loadInsights();
});
document.getElementById("catalog-form").addEventListener("submit", (event) => event.preventDefault());
searchBox.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => { offset = 0; loadCatalog(); }, SEARCH_DELAY_MS);
});
previous.addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); loadCatalog(); });
next.addEventListener("click", () => { offset += PAGE_SIZE; loadCatalog(); });
loadInsights();
loadCatalog();
