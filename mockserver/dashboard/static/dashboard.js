// lgmock dashboard: the few things htmx does not do by itself.
//
// 1. Live events: one EventSource per page that has [data-live] parts; each event
//    becomes an htmx trigger ("live-journal", "live-callbacks") on those parts.
// 2. Actions: every button or form with data-call="METHOD /_sandbox/..." sends JSON to
//    the control API (the one way to change the sandbox), shows the answer, and
//    refreshes the parts named in data-refresh.
// 3. "Copy as curl".
"use strict";

const VALUE_MARK = "__lgmock_value__";
const MAX_LIVE_ROWS = 200; // a live table keeps the newest rows only

const lgmock = {
  newestId(selector) {
    const row = document.querySelector(`${selector} [data-id]`);
    return row ? Number(row.dataset.id) : 0;
  },
};

// A live part that is replaced whole re-renders only while the keyboard focus is
// elsewhere: replacing it under a focused button or link would throw a keyboard user
// back to the top of the page. (Parts that only grow, like the journal, always update.)
function mayReplace(part) {
  return part.getAttribute("hx-swap") === "afterbegin" || !part.contains(document.activeElement);
}
window.lgmock = lgmock;

// ------------------------------------------------------------------ live events

function connectLive() {
  const parts = document.querySelectorAll("[data-live]");
  if (!parts.length) return;
  const topics = new Set();
  parts.forEach((part) => part.dataset.live.split(/\s+/).forEach((t) => topics.add(t)));
  // The server ends each stream after a few seconds and EventSource reconnects by
  // itself (see live.py); every connection starts by announcing both topics.
  const source = new EventSource(`${document.body.dataset.prefix}/events`);
  topics.forEach((topic) => {
    source.addEventListener(topic, () => {
      document.querySelectorAll(`[data-live~="${topic}"]`).forEach((part) => {
        if (mayReplace(part)) htmx.trigger(part, `live-${topic}`);
      });
    });
  });
  window.addEventListener("pagehide", () => source.close());
}

// Parts with data-poll="ms" (the device pages) re-read themselves on that period, and
// only while the page is visible: a dashboard in a background tab costs nothing.
function startPolling() {
  document.querySelectorAll("[data-poll]").forEach((part) => {
    const period = Number(part.dataset.poll);
    window.setInterval(() => {
      const current = part.id ? document.getElementById(part.id) : part;
      if (current && document.visibilityState === "visible" && mayReplace(current)) {
        htmx.trigger(current, "poll");
      }
    }, period);
  });
}

document.addEventListener("htmx:afterSwap", (event) => {
  const part = event.detail.target;
  if (part && part.dataset && part.dataset.live) {
    const rows = part.querySelectorAll(":scope > tr[data-id]");
    for (let i = MAX_LIVE_ROWS; i < rows.length; i++) {
      const detail = rows[i].nextElementSibling;
      if (detail && !detail.dataset.id) detail.remove();
      rows[i].remove();
    }
  }
});

// ------------------------------------------------------------------ actions

function flash(text, ok) {
  const box = document.getElementById("flash");
  box.textContent = text;
  box.className = ok ? "ok" : "bad";
  box.setAttribute("role", ok ? "status" : "alert");
}

function typed(field) {
  const raw = field.value;
  switch (field.dataset.kind) {
    case "boolean":
      return raw === "true";
    case "range":
    case "number":
      return raw === "" ? null : Number(raw);
    case "utc-time":
      // datetime-local has no zone: the form says UTC.
      return raw.length === 16 ? `${raw}:00Z` : `${raw}Z`;
    default:
      return raw;
  }
}

function fill(template, value) {
  if (template === VALUE_MARK) return value;
  if (Array.isArray(template)) return template.map((item) => fill(item, value));
  if (template && typeof template === "object") {
    const out = {};
    for (const [key, inner] of Object.entries(template)) out[key] = fill(inner, value);
    return out;
  }
  return template;
}

// The fault form: the rule as the control API's FaultRuleInput wants it.
function faultBody(form) {
  const data = new FormData(form);
  const target = data.get("target");
  const match = {};
  const names = target === "request" ? ["operationId", "deviceId", "caller"] : ["deviceId", "kind"];
  names.forEach((name) => {
    const value = String(data.get(name) || "").trim();
    if (value) match[name] = value;
  });
  const effect = data.get("effect");
  let value = true;
  if (effect === "error") value = data.get("error");
  if (effect === "status" || effect === "delay") value = Number(data.get(effect));
  const rule = { target, match, effect: { [effect]: value } };
  if (data.get("count")) rule.count = Number(data.get("count"));
  if (data.get("probability") !== "") rule.probability = Number(data.get("probability"));
  return rule;
}

function bodyOf(element) {
  if (element.dataset.build === "fault") return faultBody(element);
  if (element.dataset.body === undefined) return undefined;
  const template = JSON.parse(element.dataset.body);
  const field = element.querySelector("[name=value]");
  return field ? fill(template, typed(field)) : template;
}

function describeRefusal(answer, body) {
  const error = body && (body.error || (body.response && body.response.error));
  if (!error) return `${answer.status} ${answer.statusText}`;
  const problems = (error.problems || []).map((p) => (typeof p === "string" ? p : JSON.stringify(p)));
  return [`${answer.status} ${error.code || ""}: ${error.message || ""}`, ...problems].join("\n");
}

function refresh(selectors) {
  if (!selectors) return;
  selectors.split(",").forEach((selector) => {
    const part = document.querySelector(selector.trim());
    if (!part) return;
    if (part.getAttribute("hx-get")) {
      htmx.trigger(part, "refresh");
    } else {
      // A part without its own fragment: re-read it from this page.
      htmx.ajax("GET", window.location.href, { target: part, select: selector.trim(), swap: "outerHTML" });
    }
  });
}

async function call(element) {
  const [method, url] = element.dataset.call.split(" ");
  const body = bodyOf(element);
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let answer;
  try {
    answer = await fetch(url, options);
  } catch (error) {
    flash(`${method} ${url}: the sandbox did not answer (${error})`, false);
    return;
  }
  const text = await answer.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (_) {
    parsed = null;
  }
  if (answer.ok) {
    flash(`${method} ${url} → ${answer.status}`, true);
    refresh(element.dataset.refresh);
  } else {
    flash(`${method} ${url} refused: ${describeRefusal(answer, parsed)}`, false);
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-call]");
  if (button) {
    event.preventDefault();
    call(button);
    return;
  }
  const expand = event.target.closest("button[data-expand]");
  if (expand) {
    // htmx loads the detail on the first click; this shows and hides it.
    const detail = document.querySelector(expand.dataset.expand);
    detail.hidden = !detail.hidden;
    expand.setAttribute("aria-expanded", String(!detail.hidden));
    return;
  }
  const copy = event.target.closest("button[data-copy]");
  if (copy) {
    const text = document.querySelector(copy.dataset.copy).textContent;
    const done = () => flash("Copied the curl command.", true);
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => selectText(copy.dataset.copy));
    } else {
      selectText(copy.dataset.copy);
    }
  }
});

function selectText(selector) {
  const range = document.createRange();
  range.selectNodeContents(document.querySelector(selector));
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  flash("Selected the curl command: press Ctrl+C to copy it.", true);
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-call]");
  if (form) {
    event.preventDefault();
    call(form);
  }
});

// The fault form shows only the fields that apply to the chosen target and effect.
function tidyFaultForm() {
  const form = document.getElementById("fault-form");
  if (!form) return;
  const target = form.elements.target.value;
  form.querySelectorAll("label[data-for]").forEach((label) => {
    label.hidden = label.dataset.for !== target;
  });
  const effect = form.elements.effect;
  [...effect.options].forEach((option) => {
    option.hidden = option.dataset.for !== undefined && option.dataset.for !== target;
  });
  if (effect.selectedOptions[0].hidden) {
    effect.value = [...effect.options].find((option) => !option.hidden).value;
  }
  form.querySelectorAll("label[data-effect]").forEach((label) => {
    label.hidden = label.dataset.effect !== effect.value;
  });
  // Only the codes of the chosen operation's API (a code of the other API is refused).
  const chosen = form.elements.operationId.selectedOptions[0];
  const api = chosen ? chosen.dataset.api : undefined;
  const codes = form.elements.error;
  [...codes.querySelectorAll("optgroup")].forEach((group) => {
    group.hidden = api !== undefined && group.label !== api;
  });
  if (codes.selectedOptions[0] && codes.selectedOptions[0].parentElement.hidden) {
    codes.value = [...codes.options].find((option) => !option.parentElement.hidden).value;
  }
}

document.addEventListener("change", (event) => {
  if (event.target.closest("#fault-form")) tidyFaultForm();
});

document.addEventListener("DOMContentLoaded", () => {
  tidyFaultForm();
  connectLive();
  startPolling();
});
