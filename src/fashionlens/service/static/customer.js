// The customer page: photo -> POST recommend -> the photo with its garment boxes + product cards.
// The photo is shown from a local object URL; the server keeps none. Cards seen and clicked are
// reported to POST events (ids only), which feed the retailer's click-through.
import { el, svg, percent, price, productImage, postForm, postJSON, showError } from "./api.js";

const CHANNEL = "online";
const SESSION = sessionId();
const SHOWN_DELAY_MS = 400; // gather the cards that scroll into view together into one report
const REGION_NAMES = { upper: "upper body", lower: "lower body", full: "full body" };

const form = document.getElementById("upload-form");
const input = document.getElementById("photo");
const kSelect = document.getElementById("k");
const kidsBox = document.getElementById("kids"); // unticked: adults' products only
const statusLine = document.getElementById("status");
const errorBox = document.getElementById("error");
const result = document.getElementById("result");
const photo = document.getElementById("photo-view");
const overlay = document.getElementById("boxes");
const caption = document.getElementById("photo-caption");
const garmentList = document.getElementById("garments");

let current = null; // {file, data, url}
let shown = new Set();
let pendingShown = new Set();
let shownTimer = null;

async function recommend(file) {
  showError(errorBox, "");
  statusLine.textContent = "Looking at your photo…";
  form.setAttribute("aria-busy", "true");
  const body = new FormData();
  body.append("photo", file);
  body.append("k", kSelect.value);
  body.append("kids", kidsBox.checked);
  body.append("channel", CHANNEL);
  body.append("session", SESSION);
  try {
    const data = await postForm("recommend", body);
    await showResult(file, data);
    statusLine.textContent = summary(data);
  } catch (error) {
    statusLine.textContent = "";
    showError(errorBox, error.message);
  } finally {
    form.removeAttribute("aria-busy");
  }
}

function summary(data) {
  const count = data.garments.length;
  if (!count) return "No garment found in this photo. Try one where the clothes are clearly visible.";
  const found = `${count} garment${count === 1 ? "" : "s"} found.`;
  return data.note ? `${found} ${capitalise(data.note)}.` : found;
}

async function showResult(file, data) {
  if (current) URL.revokeObjectURL(current.url);
  current = { file, data, url: URL.createObjectURL(file) };
  shown = new Set();
  photo.src = current.url;
  photo.alt = `Your photo, ${data.garments.length} garment(s) marked`;
  await photo.decode().catch(() => {});
  result.hidden = false;
  caption.textContent = data.whole_image
    ? "No garment was detected in this photo, so it was read as one product: the box is what stands apart from the background."
    : "Each box is a garment we found; the numbers match the lists.";
  drawBoxes();
  garmentList.replaceChildren(...data.garments.map(garmentSection));
}

// The boxes are in the uploaded photo's pixels (after EXIF rotation, as the browser shows it);
// redrawn at the displayed size so lines and labels stay crisp at any width.
function drawBoxes() {
  if (!current) return;
  const { width, height, garments } = current.data;
  const shownWidth = photo.clientWidth;
  const shownHeight = photo.clientHeight;
  const sx = shownWidth / width;
  const sy = shownHeight / height;
  overlay.setAttribute("viewBox", `0 0 ${shownWidth} ${shownHeight}`);
  overlay.setAttribute("width", shownWidth);
  overlay.setAttribute("height", shownHeight);
  overlay.replaceChildren();
  garments.forEach(({ garment }, index) => {
    const [x1, y1, x2, y2] = garment.box;
    overlay.append(svg("g", { class: `garment-box tone-${index % 6}`, "data-index": index },
      svg("title", {}, garmentTitle(garment, index)),
      svg("rect", { class: "box", x: x1 * sx, y: y1 * sy, width: (x2 - x1) * sx, height: (y2 - y1) * sy, rx: 4 })));
  });
  // every label after every box, so that no box's line crosses a label
  const labels = []; // placed label rectangles: a label moves down until it covers no other
  garments.forEach(({ garment }, index) => {
    const group = svg("g", { class: `garment-box tone-${index % 6}` });
    overlay.append(group); // in the document, so the label's text can be measured
    const [x1, y1] = garment.box;
    addLabel(group, `${index + 1} ${garment.category} · ${garment.color}`, x1 * sx, y1 * sy, shownWidth, labels);
  });
}

const LABEL_HEIGHT = 20;

function addLabel(group, text, x, y, maxWidth, placed) {
  const background = svg("rect", { class: "label-bg", rx: 3, height: LABEL_HEIGHT });
  const label = svg("text", { class: "label" }, text);
  group.append(background, label);
  const width = label.getComputedTextLength() + 12;
  const left = Math.max(0, Math.min(x, maxWidth - width));
  let top = Math.max(0, y);
  const overlaps = (other) => left < other.left + other.width && other.left < left + width &&
    top < other.top + LABEL_HEIGHT && other.top < top + LABEL_HEIGHT;
  while (placed.some(overlaps)) top += LABEL_HEIGHT + 2;
  placed.push({ left, top, width });
  background.setAttribute("x", left);
  background.setAttribute("y", top);
  background.setAttribute("width", width);
  label.setAttribute("x", left + 6);
  label.setAttribute("y", top + 14);
}

function garmentTitle(garment, index) {
  return `${index + 1}: ${garment.category}, ${garment.color}${styleWords(garment)} (${place(garment)}; ` +
    `${confidence(garment)})`;
}

// " · striped · short sleeve": the attribute models' answers, as a shop writes them (none without them)
function styleWords(garment) {
  const { pattern, sleeve } = garment.attributes ?? {};
  const words = [];
  if (pattern) words.push(pattern.name);
  if (sleeve) words.push(sleeve.name === "sleeveless" ? "sleeveless" : `${sleeve.name} sleeve`);
  return words.map((word) => ` · ${word}`).join("");
}

function place(garment) {
  if (garment.region_score === null) return "whole photo, no box detected";
  return REGION_NAMES[garment.region] ?? "garment";
}

// Two models, two numbers: the detector's score for the box, the classifier's probability for the category.
function confidence(garment) {
  const category = `category: ${garment.category} ${percent(garment.category_score)} (classifier)`;
  if (garment.region_score === null) return category;
  return `box: detector ${percent(garment.region_score)} sure · ${category}`;
}

function garmentSection({ garment, similar, complete_the_look: completing }, index) {
  const titleId = `garment-${index + 1}`;
  const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
  swatch.style.backgroundColor = garment.color_rgb;
  const section = el("section", { class: "garment", "aria-labelledby": titleId, "data-index": index },
    el("h3", { id: titleId },
      el("span", { class: `badge tone-${index % 6}`, "aria-hidden": "true" }, index + 1),
      el("span", { class: "visually-hidden" }, `Garment ${index + 1}: `),
      `${garment.category} `, swatch, ` ${garment.color}${styleWords(garment)}`,
      el("span", { class: "muted" }, ` · ${place(garment)} · ${confidence(garment)}`)),
    lookedAt(index),
    productRow("Similar", similar, similarWhy),
    productRow("Completes the look", completing, completingWhy));
  // pointing at a garment's products highlights its box on the photo
  for (const kind of ["mouseenter", "focusin"]) section.addEventListener(kind, () => highlight(index, true));
  for (const kind of ["mouseleave", "focusout"]) section.addEventListener(kind, () => highlight(index, false));
  return section;
}

// "What the model looked at": asked only when the customer presses the button (a saliency map costs
// about as much as the analysis), once per photo for all its garments; the photo was already logged.
function lookedAt(index) {
  const button = el("button", { class: "button looked-at", type: "button", "aria-expanded": "false" },
    "What the model looked at");
  const holder = el("div", { class: "saliency", hidden: true });
  button.addEventListener("click", async () => {
    if (!holder.hidden) {
      holder.hidden = true;
      button.setAttribute("aria-expanded", "false");
      return;
    }
    button.disabled = true;
    try {
      const map = (await saliencyMaps())?.find((entry) => entry.garment === index);
      holder.replaceChildren(map
        ? el("figure", {},
          el("img", { src: `data:image/png;base64,${map.png}`, alt: `Heat map of what made the model say ${map.category}` }),
          el("figcaption", { class: "muted" },
            `Red: what made the model say ${map.category}; this is the part of the photo it was shown.`))
        : el("p", { class: "muted" }, "No map for this garment."));
      holder.hidden = false;
      button.setAttribute("aria-expanded", "true");
    } catch (error) {
      showError(errorBox, error.message);
    } finally {
      button.disabled = false;
    }
  });
  return el("div", { class: "looked-at-block" }, button, holder);
}

// The same photo gives the same garments in the same order (the analysis is deterministic), so the
// maps line up with the garments of the recommendation by their index.
async function saliencyMaps() {
  const asked = current;
  if (!asked) return null;
  if (!asked.saliency) {
    const body = new FormData();
    body.append("photo", asked.file);
    body.append("channel", CHANNEL);
    body.append("log", "false");
    asked.saliency = postForm("analyze?explain=1", body).then((data) => data.saliency);
    asked.saliency.catch(() => { asked.saliency = null; }); // a failed try may be repeated
  }
  return asked.saliency;
}

function highlight(index, on) {
  overlay.querySelector(`[data-index="${index}"]`)?.classList.toggle("active", on);
}

function productRow(title, items, why) {
  if (!items.length) return el("p", { class: "muted empty" }, `${title}: nothing in the catalogue yet.`);
  return el("div", { class: "product-row" },
    el("h4", {}, title),
    el("ul", { class: "cards" }, items.map((item) => el("li", {}, card(item, why(item))))));
}

function card(item, why) {
  const name = item.name || item.id;
  const content = [
    el("img", { src: productImage(item), alt: `${name}, ${item.color ?? ""} ${item.category ?? ""}`.trim(),
      width: 160, height: 160 }),
    el("span", { class: "card-name" }, name),
    el("span", { class: "card-price" }, price(item.price)),
    el("span", { class: "card-why" }, why),
  ];
  const link = webLink(item.url);
  const node = link
    ? el("a", { class: "card", href: link, target: "_blank", rel: "noopener", "data-id": item.id }, content)
    : el("button", { class: "card", type: "button", "data-id": item.id }, content);
  node.addEventListener("click", () => report("click", [item.id]));
  visibility.observe(node);
  return node;
}

// Only an http(s) address becomes a link: a catalogue written before the server checked links may
// hold a `javascript:` one, which an <a href> would run in the shop's page.
function webLink(url) {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

// The reasons are written by the server (catalog.recommend), so every client says the same.
const similarWhy = (item) => `Similar: ${item.why.reason} · score ${item.score.toFixed(2)}`;
const completingWhy = (item) => `Completes the look: ${item.why.reason}`;

// Each card is reported once as "shown" when at least half of it is on screen.
const visibility = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const id = entry.target.dataset.id;
    if (!entry.isIntersecting || shown.has(id)) continue;
    shown.add(id);
    pendingShown.add(id);
    visibility.unobserve(entry.target);
  }
  if (pendingShown.size && !shownTimer) shownTimer = setTimeout(flushShown, SHOWN_DELAY_MS);
}, { threshold: 0.5 });

function flushShown() {
  shownTimer = null;
  const ids = [...pendingShown];
  pendingShown = new Set();
  if (ids.length) report("shown", ids);
}

function report(kind, ids) {
  // keepalive: a click that opens the product page must still be counted
  postJSON("events", { kind, item_ids: ids, channel: CHANNEL, session: SESSION }, { keepalive: true })
    .catch((error) => console.warn(`could not report ${kind}: ${error.message}`));
}

// A random id for this browser tab, kept while it is open: it keeps a customer in one arm of the shop's
// experiment and groups the tab's photos for the audiences. Nothing personal: a fresh tab gets a new one.
function sessionId() {
  const key = "fashionlens-session";
  let id = sessionStorage.getItem(key);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(16)); // works on plain http too, unlike randomUUID
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem(key, id);
  }
  return id;
}

const capitalise = (text) => text.charAt(0).toUpperCase() + text.slice(1);

input.addEventListener("change", () => {
  if (input.files.length) recommend(input.files[0]);
});
for (const option of [kSelect, kidsBox]) {
  option.addEventListener("change", () => {
    if (current) recommend(current.file);
  });
}
form.addEventListener("submit", (event) => event.preventDefault());
for (const kind of ["dragenter", "dragover"]) {
  form.addEventListener(kind, (event) => { event.preventDefault(); form.classList.add("dragging"); });
}
form.addEventListener("dragleave", () => form.classList.remove("dragging"));
form.addEventListener("drop", (event) => {
  event.preventDefault();
  form.classList.remove("dragging");
  const file = event.dataTransfer.files[0];
  if (file) recommend(file);
});
new ResizeObserver(drawBoxes).observe(photo);
