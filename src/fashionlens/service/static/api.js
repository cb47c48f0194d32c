// Shared by both pages: calls to the JSON API, its one-line errors, and a small DOM builder.
// Text always goes in through textContent (never innerHTML): product names come from retailers' files.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// Every 4xx/5xx of the API is {"error": "<one line>"}; that line is what the user reads.
async function request(url, options = {}) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new ApiError("The server cannot be reached. Check the connection and try again.", 0);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    let reason = body && typeof body.error === "string" ? body.error : `The server answered ${response.status}.`;
    const retry = response.headers.get("Retry-After");
    if (response.status === 503 && retry) reason += ` Please try again in ${retry} s.`;
    throw new ApiError(reason, response.status);
  }
  return body;
}

export const getJSON = (url) => request(url, { headers: { Accept: "application/json" } });
export const postForm = (url, form) => request(url, { method: "POST", body: form });
export const postJSON = (url, data, options = {}) => request(url, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data), ...options,
});

// el("p", {class: "note"}, "text", child...): attributes set with setAttribute, strings as text nodes.
export function el(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

export function svg(tag, attributes = {}, ...children) {
  return build(document.createElementNS("http://www.w3.org/2000/svg", tag), attributes, children);
}

function build(node, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const percent = (value) => `${Math.round(value * 100)}%`;

const PRICE = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const price = (value) => (value === null || value === undefined ? "" : PRICE.format(value));

export const productImage = (item) => item.image_url ?? `catalog/items/${encodeURIComponent(item.id)}/image`;

export function showError(box, message) {
  box.textContent = message;
  box.hidden = !message;
}
