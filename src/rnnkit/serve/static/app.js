// rnnkit serve's page: one panel for each served model, built from GET /v1/models; every
// request goes to the same server's JSON API, and every error it answers is shown as its
// message (the API's {"error": {"status", "message"}}), never a blank.
"use strict";

const state = { apiKey: "" };

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// --- talking to the API ------------------------------------------------------------------

function headers(extra) {
  const given = Object.assign({}, extra || {});
  if (state.apiKey) given["X-API-Key"] = state.apiKey;
  return given;
}

// The API's error message of a failed response (or its status line when it has none).
async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
    else if (body && body.detail) message = String(body.detail);
  } catch (ignored) {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, message);
}

async function send(path, init) {
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, `could not reach the server (${error.message})`);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.status === 401) document.getElementById("key-form").hidden = false;
    throw error;
  }
  return response;
}

async function postJSON(path, body) {
  const response = await send(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body),
  });
  return response.json();
}

// --- building the page -------------------------------------------------------------------

// An element: el("p", {class: "x", text: "hi"}, child, ...).
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

let fieldCount = 0;

// A labelled field; returns [wrapper, control].
function field(labelText, tag, attributes, help) {
  const id = `f${++fieldCount}`;
  const helpId = help ? `${id}-help` : undefined;
  const control = el(tag, Object.assign({ id, "aria-describedby": helpId }, attributes));
  const wrapper = el("div", {}, el("label", { for: id, text: labelText }), control,
    help ? el("p", { id: helpId, class: "help", text: help }) : null);
  return [wrapper, control];
}

function numberField(labelText, attributes, help) {
  return field(labelText, "input", Object.assign({ type: "number", inputmode: "decimal" },
    attributes), help);
}

// A number input's value, or undefined when left empty (the task's default).
function numberOf(input) {
  return input.value.trim() === "" ? undefined : Number(input.value);
}

function withoutUndefined(body) {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

// The frame every panel shares: heading, form, result, error line and busy state.
function panel(model, controls, onSubmit, extraButtons) {
  const headingId = `model-${model.name}`;
  const section = el("section", { class: "panel", "aria-labelledby": headingId,
    "data-model": model.name, "data-task": model.task });
  section.append(el("h2", {}, el("span", { id: headingId, text: model.name }),
    el("span", { class: "task", text: model.task })));
  const form = el("form", { novalidate: true });
  for (const control of controls) form.append(control);
  const run = el("button", { type: "submit", text: onSubmit.label });
  form.append(el("div", { class: "actions" }, run, ...(extraButtons || [])));
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const result = el("div", { class: "result", "aria-live": "polite" });
  section.append(form, error, result);

  const view = {
    result,
    showError(caught) {
      error.textContent = caught instanceof ApiError && caught.status
        ? `Error ${caught.status}: ${caught.message}` : `Error: ${caught.message}`;
      error.hidden = false;
    },
    clearError() {
      error.hidden = true;
      error.textContent = "";
    },
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    view.clearError();
    result.replaceChildren(); // no answer of an earlier request stays beside a new error
    run.disabled = true;
    section.setAttribute("aria-busy", "true");
    try {
      await onSubmit.run(view);
    } catch (caught) {
      view.showError(caught);
    } finally {
      run.disabled = false;
      section.removeAttribute("aria-busy");
    }
  });
  // Ctrl+Enter (or Cmd+Enter) in a text box submits its form.
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  return section;
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

// --- one panel per task --------------------------------------------------------------------

function classifyPanel(model) {
  const [textBox, text] = field("Text to classify", "textarea", { rows: 4,
    placeholder: "Type a review, a tweet, …" });
  return panel(model, [textBox], {
    label: "Classify",
    async run(view) {
      const body = await postJSON(`/v1/models/${model.name}/predict`, { texts: [text.value] });
      showLabel(view, body.predictions[0]);
    },
  });
}

// A classifier's answer for one input: its label and a bar for each label's probability.
function showLabel(view, row) {
  const classes = Object.entries(row.probabilities).sort((a, b) => b[1] - a[1]);
  const bars = el("ul", { class: "bars", "aria-label": "probability of each label" });
  for (const [name, p] of classes) {
    const fill = el("div", { class: "fill" });
    fill.style.width = percent(p);
    bars.append(el("li", { class: String(name) === String(row.label) ? "top" : "" },
      el("span", { class: "name", text: name }),
      el("span", { class: "track", "aria-hidden": "true" }, fill),
      el("span", { class: "value", text: percent(p) })));
  }
  view.result.replaceChildren(
    el("p", { class: "label-line" }, "Label: ",
      el("strong", { class: "predicted-label", text: String(row.label) })),
    bars);
}

// Each server-sent event of a response body, as {event, data}.
async function* serverSentEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = { event: "message", data: "" };
      for (const line of block.split("\n")) {
        const colon = line.indexOf(": ");
        if (colon < 0) continue;
        const key = line.slice(0, colon);
        if (key === "event") message.event = line.slice(colon + 2);
        else if (key === "data") message.data += line.slice(colon + 2);
      }
      yield { event: message.event, data: JSON.parse(message.data) };
    }
  }
}

function lmPanel(model) {
  const [primeBox, prime] = field("Prime", "textarea", { rows: 3,
    placeholder: "The text to continue (may be empty)" });
  const [temperatureBox, temperature] = numberField("Temperature",
    { min: 0, max: 5, step: 0.1, value: 0.8 }, "0: always the likeliest token");
  const [lengthBox, length] = numberField("Length", { min: 1, step: 1, value: 200 },
    "tokens to generate");
  const [topKBox, topK] = numberField("Top-k", { min: 1, step: 1, placeholder: "all" });
  const [topPBox, topP] = numberField("Top-p", { min: 0.01, max: 1, step: 0.01,
    placeholder: "1" });
  const [seedBox, seed] = numberField("Seed", { min: 0, step: 1, placeholder: "random" });
  const streamId = `f${++fieldCount}`;
  const stream = el("input", { type: "checkbox", id: streamId, checked: true });
  const streamBox = el("label", { class: "check", for: streamId }, stream,
    "Show the text as it comes");
  const options = el("div", { class: "options" }, temperatureBox, lengthBox, topKBox, topPBox,
    seedBox);
  const stop = el("button", { type: "button", class: "secondary", text: "Stop", disabled: true });
  let controller = null;
  stop.addEventListener("click", () => controller && controller.abort());

  return panel(model, [primeBox, options, streamBox], {
    label: "Generate",
    async run(view) {
      const body = withoutUndefined({
        prime: prime.value,
        temperature: numberOf(temperature),
        length: numberOf(length),
        top_k: numberOf(topK),
        top_p: numberOf(topP),
        seed: numberOf(seed),
      });
      const output = el("span", { class: "output" });
      const text = el("pre", { class: "text generated" },
        el("span", { class: "prime", text: body.prime }), output);
      const meta = el("p", { class: "meta" });
      const done = (result) => {
        output.textContent = result.output;
        meta.textContent = `${result.tokens} tokens in ${result.seconds} s · seed ${result.seed}`;
      };
      const path = `/v1/models/${model.name}/generate`;
      if (!stream.checked) {
        const result = await postJSON(path, body);
        view.result.replaceChildren(text, meta);
        done(result);
        return;
      }
      view.result.replaceChildren(text, meta);
      controller = new AbortController();
      stop.disabled = false;
      try {
        const response = await send(`${path}?stream=true`, {
          method: "POST",
          headers: headers({ "Content-Type": "application/json" }),
          body: JSON.stringify(body),
          signal: controller.signal,
        });
        for await (const message of serverSentEvents(response)) {
          if (message.event === "token") output.textContent += message.data.text;
          else if (message.event === "done") done(message.data);
          else if (message.event === "error") {
            throw new ApiError(message.data.status, message.data.message);
          }
        }
      } catch (caught) {
        if (caught.name !== "AbortError") {
          if (output.textContent === "") view.result.replaceChildren(); // nothing came
          throw caught;
        }
        meta.textContent = "stopped";
      } finally {
        stop.disabled = true;
        controller = null;
      }
    },
  }, [stop]);
}

function translatePanel(model) {
  const [sourceBox, source] = field("Sentences", "textarea", { rows: 3,
    placeholder: "One sentence a line" });
  const [beamBox, beam] = numberField("Beam width", { min: 1, step: 1, placeholder: "default" },
    "1: greedy search");
  return panel(model, [sourceBox, el("div", { class: "options" }, beamBox)], {
    label: "Translate",
    async run(view) {
      const sentences = source.value.split("\n").filter((line) => line.trim() !== "");
      const body = await postJSON(`/v1/models/${model.name}/predict`,
        withoutUndefined({ sentences: sentences.length ? sentences : [""],
          beam: numberOf(beam) }));
      const list = el("ol", { class: "outputs" });
      for (const row of body.predictions) {
        list.append(el("li", {}, el("span", { class: "translation", text: row.output }),
          el("span", { class: "score", text: `score ${Number(row.score).toFixed(3)}` })));
      }
      view.result.replaceChildren(list);
    },
  });
}

// A line chart of the history and the forecast (with its interval where there is one).
function forecastChart(history, forecast) {
  const width = 600, height = 200, pad = 8;
  const all = history.concat(forecast.flatMap((c) => [c.lower, c.forecast, c.upper]))
    .filter((v) => Number.isFinite(v));
  const low = Math.min(...all), high = Math.max(...all);
  const n = history.length + forecast.length;
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(n - 1, 1);
  const y = (v) => height - pad - ((v - low) * (height - 2 * pad)) / (high - low || 1);
  const line = (points) => points.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`)
    .join(" ");
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "the series and its forecast");
  const shape = (tag, attributes) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    svg.append(node);
  };
  const start = history.length;
  const bounded = forecast.filter((c) => Number.isFinite(c.lower) && Number.isFinite(c.upper));
  if (bounded.length === forecast.length && forecast.length) {
    const upper = forecast.map((c, i) => [start + i, c.upper]);
    const lower = forecast.map((c, i) => [start + i, c.lower]).reverse();
    shape("polygon", { class: "band", points: line(upper.concat(lower)) });
  }
  shape("polyline", { class: "history", fill: "none", "stroke-width": 2,
    points: line(history.map((v, i) => [i, v])) });
  shape("polyline", { class: "forecast", fill: "none", "stroke-width": 2,
    points: line([[start - 1, history[start - 1]]].concat(
      forecast.map((c, i) => [start + i, c.forecast]))) });
  return svg;
}

function forecastPanel(model) {
  const [valuesBox, values] = field("Values", "textarea", { rows: 3,
    placeholder: "The latest values, oldest first: 10.2, 11.5, 12.1, …" },
    "numbers separated by commas, spaces or lines");
  const [stepsBox, steps] = numberField("Steps", { min: 1, step: 1, placeholder: "horizon" });
  return panel(model, [valuesBox, el("div", { class: "options" }, stepsBox)], {
    label: "Forecast",
    async run(view) {
      const words = values.value.split(/[\s,;]+/).filter((word) => word !== "");
      const numbers = words.map(Number);
      const bad = words.find((word, i) => !Number.isFinite(numbers[i]));
      if (bad !== undefined) throw new Error(`"${bad}" is not a number; expected numbers`);
      const body = await postJSON(`/v1/models/${model.name}/predict`,
        withoutUndefined({ values: numbers, steps: numberOf(steps) }));
      const target = body.targets[0];
      const head = el("tr", {}, el("th", { text: "step" }), el("th", { text: "forecast" }),
        el("th", { text: "lower" }), el("th", { text: "upper" }));
      const rows = body.forecast.map((row, i) => {
        const cell = row[target];
        const shown = (v) => (Number.isFinite(v) ? Number(v).toFixed(3) : "–");
        return el("tr", {}, el("td", { text: row.time || String(i + 1) }),
          el("td", { text: shown(cell.forecast) }), el("td", { text: shown(cell.lower) }),
          el("td", { text: shown(cell.upper) }));
      });
      const table = el("table", {}, el("caption", { class: "meta",
        text: `${target}: ${body.steps} steps` }), el("thead", {}, head), el("tbody", {}, ...rows));
      view.result.replaceChildren(el("div", { class: "table-wrap" }, table),
        forecastChart(numbers, body.forecast.map((row) => row[target])));
    },
  });
}

function captionPanel(model) {
  const [imageBox, image] = field("Image", "input", { type: "file", accept: "image/*" },
    "PNG, JPEG, …");
  const [beamBox, beam] = numberField("Beam width", { min: 1, step: 1, placeholder: "default" });
  return panel(model, [imageBox, el("div", { class: "options" }, beamBox)], {
    label: "Caption",
    async run(view) {
      const file = image.files[0];
      if (!file) throw new Error("no image chosen; expected an image file");
      const form = new FormData();
      form.append("image", file);
      if (numberOf(beam) !== undefined) form.append("beam", String(numberOf(beam)));
      const response = await send(`/v1/models/${model.name}/caption`,
        { method: "POST", headers: headers(), body: form });
      const row = (await response.json()).predictions[0];
      const preview = el("img", { class: "preview", alt: "the uploaded image" });
      preview.src = URL.createObjectURL(file);
      view.result.replaceChildren(el("p", {}, el("strong", { class: "caption",
        text: row.output })), preview);
    },
  });
}

function speechPanel(model) {
  const [audioBox, audio] = field("Recording", "input", { type: "file",
    accept: ".wav,audio/wav,audio/x-wav" }, "a PCM WAV file");
  return panel(model, [audioBox], {
    label: "Classify recording",
    async run(view) {
      const file = audio.files[0];
      if (!file) throw new Error("no recording chosen; expected a WAV file");
      const form = new FormData();
      form.append("audio", file);
      const response = await send(`/v1/models/${model.name}/classify`,
        { method: "POST", headers: headers(), body: form });
      showLabel(view, (await response.json()).predictions[0]);
      const player = el("audio", { controls: true, class: "preview",
        "aria-label": "the uploaded recording" });
      player.src = URL.createObjectURL(file);
      view.result.append(player);
    },
  });
}

function otherPanel(model) {
  const section = el("section", { class: "panel", "data-model": model.name,
    "data-task": model.task }, el("h2", {}, model.name,
    el("span", { class: "task", text: model.task })));
  section.append(el("p", { class: "help" }, "This page has no panel for this task yet; use the ",
    el("a", { href: "/docs", text: "HTTP API" }), "."));
  return section;
}

const PANELS = {
  classify: classifyPanel,
  lm: lmPanel,
  translate: translatePanel,
  forecast: forecastPanel,
  caption: captionPanel,
  speech: speechPanel,
};

async function loadModels() {
  const status = document.getElementById("status");
  const pageError = document.getElementById("page-error");
  pageError.hidden = true;
  try {
    const response = await send("/v1/models", { headers: headers() });
    const { models } = await response.json();
    const panels = models.map((model) => (PANELS[model.task] || otherPanel)(model));
    document.getElementById("models").replaceChildren(...panels);
    status.textContent = `${models.length} model${models.length === 1 ? "" : "s"} served`;
  } catch (caught) {
    status.textContent = "";
    pageError.textContent = caught.status
      ? `Error ${caught.status}: ${caught.message}` : `Error: ${caught.message}`;
    pageError.hidden = false;
  }
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.apiKey = document.getElementById("api-key").value.trim();
  loadModels();
});

loadModels();
