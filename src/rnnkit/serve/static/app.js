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

// The frame every panel shares: a heading, then one action (see action()).
function panel(model, controls, onSubmit, extraButtons) {
  const headingId = `model-${model.name}`;
  const section = el("section", { class: "panel", "aria-labelledby": headingId,
    "data-model": model.name, "data-task": model.task });
  section.append(el("h2", {}, el("span", { id: headingId, text: model.name }),
    el("span", { class: "task", text: model.task })));
  section.append(...action(section, controls, onSubmit, extraButtons));
  return section;
}

// A form with its run button, error line and result (busy state on ``busy``); returns the
// nodes to append. A panel may hold more than one.
function action(busy, controls, onSubmit, extraButtons) {
  const form = el("form", { novalidate: true });
  for (const control of controls) form.append(control);
  const run = el("button", { type: "submit", text: onSubmit.label });
  form.append(el("div", { class: "actions" }, run, ...(extraButtons || [])));
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const result = el("div", { class: "result", "aria-live": "polite" });

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
    busy.setAttribute("aria-busy", "true");
    try {
      await onSubmit.run(view);
    } catch (caught) {
      view.showError(caught);
    } finally {
      run.disabled = false;
      busy.removeAttribute("aria-busy");
    }
  });
  // Ctrl+Enter (or Cmd+Enter) in a text box submits its form.
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  return [form, error, result];
}

// A labelled checkbox; returns [wrapper, control].
function checkbox(labelText, checked) {
  const id = `f${++fieldCount}`;
  const control = el("input", { type: "checkbox", id, checked });
  return [el("label", { class: "check", for: id }, control, labelText), control];
}

// A background colour for a value in [-1, 1]: blue above 0, red below, stronger further out.
function shade(value) {
  const strength = Math.min(1, Math.abs(value)) * 0.85;
  const rgb = value >= 0 ? "33, 102, 172" : "178, 24, 43";
  return `rgba(${rgb}, ${strength.toFixed(3)})`;
}

// Dark text on a light shade, white on a dark one.
function inkOn(value) {
  return Math.abs(value) > 0.55 ? "#fff" : "";
}

function signed(value, digits) {
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(digits)}`;
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

// --- one panel per task --------------------------------------------------------------------

function classifyPanel(model) {
  const [textBox, text] = field("Text to classify", "textarea", { rows: 4,
    placeholder: "Type a review, a tweet, …" });
  const [explainBox, explain] = checkbox("Show each word's contribution", true);
  const [methodBox, method] = field("Contribution by", "select", {});
  for (const [value, name] of Object.entries(METHODS)) {
    method.append(el("option", { value, text: name.label }));
  }
  explain.addEventListener("change", () => { method.disabled = !explain.checked; });
  const level = ((model.settings || {}).data || {}).level;
  return panel(model, [textBox, explainBox, el("div", { class: "options" }, methodBox)], {
    label: "Classify",
    async run(view) {
      const path = `/v1/models/${model.name}/${explain.checked ? "explain" : "predict"}`;
      const body = await postJSON(path, explain.checked
        ? { texts: [text.value], method: method.value } : { texts: [text.value] });
      const row = body.predictions[0];
      showLabel(view, row);
      if (explain.checked) {
        view.result.append(contributions(row, level === "char" ? "" : " ", method.value));
      }
    },
  });
}

// How a classifier's explanation is computed: the API's method -> its name and its meaning.
const METHODS = {
  occlusion: { label: "occlusion", means: "the drop when it is replaced by an unknown word" },
  gradient: { label: "gradient × input", means: "the gradient of that probability at the "
    + "word's embedding times the embedding, a first-order estimate of the drop without it" },
};

// Each token of an explained text coloured by its contribution to the label's probability
// (scaled to the largest), the numbers in each token's title and in a table.
function contributions(row, separator, method) {
  const largest = Math.max(1e-9, ...row.contributions.map(Math.abs));
  const text = el("p", { class: "text contributions", "aria-label": "each word's contribution" });
  const rows = [];
  row.tokens.forEach((token, i) => {
    const c = row.contributions[i];
    const word = el("span", { class: "token", text: token,
      title: `${token}: ${signed(c, 3)} to p(${row.label})`, "data-contribution": c });
    word.style.background = shade(c / largest);
    word.style.color = inkOn(c / largest);
    if (i > 0 && separator) text.append(separator);
    text.append(word);
    rows.push(el("tr", {}, el("td", { text: token }), el("td", { text: signed(c, 4) })));
  });
  const legend = el("p", { class: "help" }, "How much each word raises (blue) or lowers (red) ",
    "the probability of ", el("strong", { text: String(row.label) }),
    `: ${METHODS[method].means} (hover a word for its number).`);
  const table = el("table", { class: "contribution-table" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "token" }),
      el("th", { scope: "col", text: "contribution" }))),
    el("tbody", {}, ...rows));
  const details = el("details", {}, el("summary", { text: "The contributions as a table" }),
    el("div", { class: "table-wrap" }, table));
  return el("div", { class: "explanation" }, text, legend, details);
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
  const [samplesBox, samples] = numberField("Samples", { min: 1, step: 1, value: 1 },
    "continuations of the prime (more than 1: not streamed)");
  const streamId = `f${++fieldCount}`;
  const stream = el("input", { type: "checkbox", id: streamId, checked: true });
  const streamBox = el("label", { class: "check", for: streamId }, stream,
    "Show the text as it comes");
  const options = el("div", { class: "options" }, temperatureBox, lengthBox, topKBox, topPBox,
    seedBox, samplesBox);
  const stop = el("button", { type: "button", class: "secondary", text: "Stop", disabled: true });
  let controller = null;
  stop.addEventListener("click", () => controller && controller.abort());

  const section = panel(model, [primeBox, options, streamBox], {
    label: "Generate",
    async run(view) {
      const body = withoutUndefined({
        prime: prime.value,
        temperature: numberOf(temperature),
        length: numberOf(length),
        top_k: numberOf(topK),
        top_p: numberOf(topP),
        seed: numberOf(seed),
        samples: numberOf(samples) === 1 ? undefined : numberOf(samples), // 1: the default
      });
      const path = `/v1/models/${model.name}/generate`;
      if (body.samples !== undefined) { // several continuations: one JSON answer, one text each
        const result = await postJSON(path, body);
        const texts = result.outputs.map((continuation) => el("pre", { class: "text generated" },
          el("span", { class: "prime", text: body.prime }),
          el("span", { class: "output", text: continuation })));
        view.result.replaceChildren(...texts, el("p", { class: "meta", text:
          `${result.samples} samples of ${result.tokens} tokens in ${result.seconds} s · `
          + `seeds ${result.seed} to ${result.seed + result.samples - 1}` }));
        return;
      }
      const output = el("span", { class: "output" });
      const text = el("pre", { class: "text generated" },
        el("span", { class: "prime", text: body.prime }), output);
      const meta = el("p", { class: "meta" });
      const done = (result) => {
        output.textContent = result.output;
        meta.textContent = `${result.tokens} tokens in ${result.seconds} s · seed ${result.seed}`;
      };
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
  section.append(el("h3", { text: "Inside the model" }),
    el("p", { class: "help", text: "Read a text and see what the chosen units hold after each "
      + "token (as rnnkit visualize draws it)." }), ...activationsAction(model, section));
  return section;
}

// A language model's units over a text: which units and layer, then the text coloured by the
// unit picked.
function activationsAction(model, section) {
  const [textBox, text] = field("Text to read", "textarea", { rows: 3,
    placeholder: "A text in the model's vocabulary" });
  const [unitsBox, units] = field("Units", "input", { type: "text", inputmode: "numeric",
    placeholder: "those that vary most" }, "numbers separated by commas");
  const [layerBox, layer] = numberField("Layer", { min: 1, step: 1, placeholder: "last" });
  const [stateBox, state] = field("State", "select", {});
  for (const [value, name] of [["", "default"], ["cell", "cell: tanh(c)"],
    ["hidden", "hidden: h"]]) state.append(el("option", { value, text: name }));
  const level = ((model.settings || {}).data || {}).level;
  return action(section, [textBox, el("div", { class: "options" }, unitsBox, layerBox,
    stateBox)], {
    label: "Show activations",
    async run(view) {
      const words = units.value.split(/[\s,;]+/).filter((word) => word !== "");
      const bad = words.find((word) => !/^\d+$/.test(word));
      if (bad !== undefined) {
        throw new Error(`"${bad}" is not a unit number; expected numbers from 0`);
      }
      const body = await postJSON(`/v1/models/${model.name}/activations`, withoutUndefined({
        text: text.value,
        units: words.length ? words.map(Number) : undefined,
        layer: numberOf(layer),
        state: state.value || undefined,
      }));
      showActivations(view, body, level === "word" ? " " : "");
    },
  });
}

// The text coloured by one unit's activation after each token, and a picker of the units.
function showActivations(view, body, separator) {
  const [pickerBox, picker] = field("Unit", "select", {});
  body.units.forEach((unit, i) => picker.append(el("option", { value: i, text: `unit ${unit}` })));
  const what = body.state === "cell" ? "tanh(cell state)" : "hidden state";
  const meta = el("p", { class: "meta", text: `layer ${body.layer}, ${what} after each of `
    + `${body.tokens.length} tokens (${body.hidden_size} units); blue above 0, red below; `
    + "hover a token for its value and the model's next-token guesses" });
  const text = el("pre", { class: "text activations" });
  const spans = body.tokens.map((token, t) => {
    const end = token === "\n" || token === "<eos>";
    const span = el("span", { class: "token", text: end ? "↵\n" : token });
    text.append(span);
    if (separator && !end && t + 1 < body.tokens.length) text.append(separator);
    return span;
  });
  const guesses = body.guesses.map((row) => row.map(([token, p]) =>
    `${JSON.stringify(token)} ${percent(p)}`).join(", "));
  const draw = () => {
    const column = Number(picker.value);
    text.setAttribute("aria-label", `the text coloured by unit ${body.units[column]}`);
    spans.forEach((span, t) => {
      const value = body.activations[t][column];
      span.style.background = shade(value);
      span.style.color = inkOn(value);
      span.dataset.value = value;
      span.title = `${JSON.stringify(body.tokens[t])}: unit ${body.units[column]} = `
        + `${signed(value, 3)}; next: ${guesses[t]}`;
    });
  };
  picker.addEventListener("change", draw);
  draw();
  view.result.replaceChildren(el("div", { class: "options" }, pickerBox), text, meta);
}

function translatePanel(model) {
  const [sourceBox, source] = field("Sentences", "textarea", { rows: 3,
    placeholder: "One sentence a line" });
  const [beamBox, beam] = numberField("Beam width", { min: 1, step: 1, placeholder: "default" },
    "1: greedy search");
  const [attentionBox, attention] = checkbox("Show the attention", true);
  return panel(model, [sourceBox, el("div", { class: "options" }, beamBox), attentionBox], {
    label: "Translate",
    async run(view) {
      const lines = source.value.split("\n").filter((line) => line.trim() !== "");
      const sentences = lines.length ? lines : [""];
      const list = el("ol", { class: "outputs" });
      if (!attention.checked) {
        const body = await postJSON(`/v1/models/${model.name}/predict`,
          withoutUndefined({ sentences, beam: numberOf(beam) }));
        for (const row of body.predictions) list.append(translationItem(row));
        view.result.replaceChildren(list);
        return;
      }
      view.result.replaceChildren(el("p", { class: "help", text: "Under each translation, its "
        + "attention: a row for each translated piece over the source pieces (columns), each "
        + "row summing to 1; the darker, the more weight." }), list);
      for (const sentence of sentences) { // one sentence a request: each with its heat map
        const row = await postJSON(`/v1/models/${model.name}/attention`,
          withoutUndefined({ sentence, beam: numberOf(beam) }));
        list.append(translationItem(row, attentionMap(row)));
      }
    },
  });
}

function translationItem(row, ...more) {
  return el("li", {}, el("span", { class: "translation", text: row.output }),
    el("span", { class: "score", text: `score ${Number(row.score).toFixed(3)}` }), ...more);
}

// A subword piece as shown: without the word-start mark (▁).
function piece(text) {
  return text.replace(/▁/g, "") || "▁";
}

// The attention of one translation as a table: a row for each generated piece, a column for
// each source piece, each cell shaded by its weight (the weight is the cell's text).
function attentionMap(row) {
  const head = el("tr", {}, el("td", {}),
    ...row.source.map((p) => el("th", { scope: "col", text: piece(p) })));
  const rows = row.target.map((p, i) => el("tr", {}, el("th", { scope: "row", text: piece(p) }),
    ...row.weights[i].map((w, j) => {
      const cell = el("td", { text: w.toFixed(2),
        title: `${piece(p)} ← ${piece(row.source[j])}: ${w.toFixed(4)}` });
      cell.style.background = `rgba(47, 95, 208, ${(0.9 * w).toFixed(3)})`;
      cell.style.color = w > 0.5 ? "#fff" : "";
      return cell;
    })));
  const table = el("table", { class: "heatmap" },
    el("caption", { class: "meta", text: "attention weights" }),
    el("thead", {}, head), el("tbody", {}, ...rows));
  return el("div", { class: "table-wrap" }, table);
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

// One sequence a line: numbers separated by commas or spaces (one feature a step), or a JSON
// array of rows ([[1, 2], [3, 4]]: one row of features a step).
function sequencesOf(text) {
  const lines = text.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  if (!lines.length) throw new Error("no sequence given; expected one sequence a line");
  return lines.map((line, i) => {
    if (line.startsWith("[")) {
      try {
        return JSON.parse(line);
      } catch (caught) {
        throw new Error(`line ${i + 1} is not a JSON array; expected [[1, 2], [3, 4]]`);
      }
    }
    const words = line.split(/[\s,;]+/).filter((word) => word !== "");
    const bad = words.find((word) => !Number.isFinite(Number(word)));
    if (bad !== undefined) throw new Error(`line ${i + 1}: "${bad}" is not a number`);
    return words.map(Number);
  });
}

function regressPanel(model) {
  const [sequencesBox, sequences] = field("Sequences", "textarea", { rows: 4,
    placeholder: "0.1, 0.5, 0.9\n0.2 0.4" },
    "one sequence a line, oldest step first: numbers, or a JSON array of rows of features");
  return panel(model, [sequencesBox], {
    label: "Predict",
    async run(view) {
      const body = await postJSON(`/v1/models/${model.name}/predict`,
        { sequences: sequencesOf(sequences.value) });
      const names = Object.keys(body.predictions[0].prediction);
      const head = el("tr", {}, el("th", { text: "sequence" }),
        ...names.map((name) => el("th", { text: name })));
      const rows = body.predictions.map((row, i) => el("tr", {},
        el("td", { text: String(i + 1) }), ...names.map((name) => el("td", {
          class: "value", text: Number.isFinite(row.prediction[name])
            ? Number(row.prediction[name]).toPrecision(6) : "–" }))));
      const table = el("table", {}, el("caption", { class: "meta",
        text: `${rows.length} sequence(s)` }), el("thead", {}, head), el("tbody", {}, ...rows));
      view.result.replaceChildren(el("div", { class: "table-wrap" }, table));
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
  regress: regressPanel,
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
