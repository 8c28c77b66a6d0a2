/**
 * The stack viewer: open a stack safetensors file (docs/formats.md, “The stack file”), evaluate it on the GPU on states
 * typed by the user, and show how its snapshots make up the policy of the first state.
 *
 * DOM contract (the browser tests rely on it):
 *   #stack-file, #drop-zone      load a file (input change, or a drop on the zone)
 *   #load-error                  why a file could not be loaded (the previous stack stays)
 *   #stack-summary               what the loaded file holds (data-inputs, data-actions, data-stored)
 *   #states                      one state per line; #random-state, #compute
 *   #state-error                 which line is wrong and why (nothing is computed then)
 *   #compute-error               a failure of the GPU evaluation
 *   #logits-output               table of logits, π and greedy action per state, with
 *                                data-batch (states) and data-logits (JSON of the float32 logits)
 *   body[data-ready]             "1" once the GPU is open, "no-gpu" when there is none
 *   body[data-computed]          number of successful computes so far
 */
import {
  parseDecimal,
  readStackFile,
  snapshotContributions,
  stackFromContents,
  stackLogits,
  StaqFormatError,
  type Gpu,
  type Stack,
  type StackFileContents,
} from "../src/index.ts";
import { openGpu } from "./open-gpu.ts";
import { createStackView, formatNumber, greedyAction, softmax } from "./stack-view.ts";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`stack.html has no #${id}`);
  return found as T;
}

const banner = element<HTMLDivElement>("gpu-status");
const fileInput = element<HTMLInputElement>("stack-file");
const dropZone = element<HTMLDivElement>("drop-zone");
const loadError = element<HTMLDivElement>("load-error");
const summary = element<HTMLTableElement>("stack-summary");
const statesInput = element<HTMLTextAreaElement>("states");
const statesHelp = element<HTMLParagraphElement>("states-help");
const randomButton = element<HTMLButtonElement>("random-state");
const computeButton = element<HTMLButtonElement>("compute");
const stateError = element<HTMLDivElement>("state-error");
const computeError = element<HTMLDivElement>("compute-error");
const output = element<HTMLTableElement>("logits-output");
const outputScroll = element<HTMLDivElement>("logits-scroll");
const outputNote = element<HTMLParagraphElement>("logits-note");
const viewState = element<HTMLParagraphElement>("view-state");
const view = createStackView(element<HTMLDivElement>("stack-view"));

/** The loaded stack: the GPU copy and what the file holds (for the CPU contributions). */
interface Loaded {
  name: string;
  stack: Stack;
  contents: StackFileContents;
}

let gpu: Gpu | null = null;
let loaded: Loaded | null = null;
let computed = 0;

/**
 * Everything the page does runs one step after another on this chain: a file dropped while a
 * compute is running waits for it, so a stack is never destroyed under an evaluation, and a file
 * chosen before the GPU is open waits for the GPU.
 */
let chain: Promise<unknown> = Promise.resolve();
function serial(step: () => Promise<void>, errorBox: HTMLElement): void {
  chain = chain.then(step).catch((error: unknown) => show(errorBox, `Unexpected error: ${messageOf(error)}`));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function show(box: HTMLElement, text: string): void {
  box.textContent = text;
  box.hidden = text === "";
}
for (const box of [loadError, stateError, computeError]) show(box, "");

// ---- the GPU ----------------------------------------------------------------------------------

serial(async () => {
  gpu = await openGpu(banner);
  document.body.dataset.ready = gpu ? "1" : "no-gpu";
  // WebGPU reports some failures (out of memory, validation) only as events: show them too.
  gpu?.device.addEventListener("uncapturederror", (event) => {
    show(computeError, `GPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
  });
}, banner);

// ---- loading a file ---------------------------------------------------------------------------

async function loadFile(file: File): Promise<void> {
  show(loadError, "");
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (error) {
    show(loadError, `Could not read ${file.name}: ${messageOf(error)}`);
    return;
  }
  let contents: StackFileContents;
  try {
    contents = readStackFile(bytes);
  } catch (error) {
    const kind = error instanceof StaqFormatError ? "is not a valid staq stack file" : "could not be read";
    show(loadError, `${file.name} ${kind}: ${messageOf(error)}${loaded ? `\nStill showing ${loaded.name}.` : ""}`);
    return;
  }
  if (!gpu) {
    show(loadError, `${file.name} is a valid stack file, but this page needs WebGPU to evaluate it (see the message at the top).`);
    showSummary(file, contents);
    return;
  }
  let stack: Stack;
  try {
    stack = stackFromContents(gpu, contents, { label: file.name });
  } catch (error) {
    show(loadError, `Could not put ${file.name} on the GPU: ${messageOf(error)}${loaded ? `\nStill showing ${loaded.name}.` : ""}`);
    return;
  }
  loaded?.stack.destroy(); // the chain guarantees no evaluation of it is running
  loaded = { name: file.name, stack, contents };
  showSummary(file, contents);
  fitStatesText(contents.spec.inputs);
  await compute();
}

function showSummary(file: File, contents: StackFileContents): void {
  const { spec } = contents;
  const rows: [string, string][] = [
    ["file", `${file.name} (${file.size.toLocaleString("en")} bytes)`],
    ["network", [spec.inputs, ...spec.hidden, spec.outputs].join(" → ") + " (inputs → hidden → actions), ReLU"],
    ["ensemble members", String(contents.members)],
    ["stored snapshots / memory M", `${contents.stored} / ${contents.memory}`],
    ["η (KL weight)", String(contents.eta)],
    ["τ (entropy weight)", String(contents.tau)],
    ["γ (discount)", String(contents.gamma)],
    ["correction", String(contents.correction)],
    ["variant", contents.variant],
    ["normalization", contents.normalization],
  ];
  summary.replaceChildren(
    ...rows.map(([key, value]) => {
      const row = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = key;
      const td = document.createElement("td");
      td.textContent = value;
      row.append(th, td);
      return row;
    }),
  );
  summary.dataset.inputs = String(spec.inputs);
  summary.dataset.actions = String(spec.outputs);
  summary.dataset.stored = String(contents.stored);
  statesHelp.textContent = `One state per line: ${spec.inputs} numbers (this stack's inputs), separated by commas and/or spaces. Blank lines are skipped. Ctrl+Enter computes.`;
}

/** After a load: a line of zeros when the text is empty or its lines do not have `inputs` values. */
function fitStatesText(inputs: number): void {
  const lines = statesInput.value.split("\n").filter((line) => line.trim() !== "");
  const fits = lines.length > 0 && lines.every((line) => splitValues(line).length === inputs);
  if (!fits) statesInput.value = Array(inputs).fill("0").join(", ");
}

fileInput.addEventListener("change", () => {
  const files = Array.from(fileInput.files ?? []);
  fileInput.value = ""; // so that choosing the same file again loads it again
  if (files.length === 1) serial(() => loadFile(files[0]), loadError);
});

// A file dropped next to the zone would make the browser leave the page to show it: refuse that.
for (const type of ["dragover", "drop"]) window.addEventListener(type, (event) => event.preventDefault());
dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
  dropZone.classList.add("over");
});
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("over");
  const files = Array.from(event.dataTransfer?.files ?? []);
  if (files.length !== 1) {
    show(
      loadError,
      files.length === 0
        ? "Nothing to load: drop a .safetensors file (not text or a link)."
        : `Drop one stack file at a time; got ${files.length} files.`,
    );
    return;
  }
  serial(() => loadFile(files[0]), loadError);
});

// ---- states -----------------------------------------------------------------------------------

/** The values of a line: separated by commas and/or blanks; an empty value between commas stays in, to be reported. */
function splitValues(line: string): string[] {
  const trimmed = line.trim();
  return trimmed === "" ? [] : trimmed.split(/\s*,\s*|\s+/);
}

/** Parses the text into [batch, inputs] float32 states, or says which line is wrong and why. */
function parseStates(text: string, inputs: number): { states: Float32Array; lines: number[] } | { error: string } {
  const values: number[] = [];
  const lines: number[] = [];
  const rows = text.split("\n");
  for (let r = 0; r < rows.length; r++) {
    const tokens = splitValues(rows[r]);
    if (tokens.length === 0) continue;
    const where = `Line ${r + 1}`;
    if (tokens.length !== inputs) {
      return {
        error: `${where} has ${tokens.length} value${tokens.length === 1 ? "" : "s"}; this stack's networks take ${inputs} (one state per line).`,
      };
    }
    for (let k = 0; k < tokens.length; k++) {
      const token = tokens[k];
      if (token === "")
        return { error: `${where}, value ${k + 1} is empty (two commas in a row, or a comma at the start or end of the line).` };
      // A decimal as people type it: no hex, no "Infinity" (parseDecimal).
      const value = parseDecimal(token);
      if (Number.isNaN(value)) return { error: `${where}, value ${k + 1}: ${JSON.stringify(token)} is not a number.` };
      // The GPU works in float32: a value beyond ±3.4e38 would become infinite there.
      if (!Number.isFinite(Math.fround(value)))
        return { error: `${where}, value ${k + 1}: ${token} is too large for float32 (the GPU's numbers); it must be finite.` };
      values.push(value);
    }
    lines.push(r + 1);
  }
  if (lines.length === 0) return { error: `No states: enter at least one line of ${inputs} numbers.` };
  return { states: Float32Array.from(values), lines };
}

randomButton.addEventListener("click", () => {
  if (!loaded) {
    show(stateError, "Load a stack file first: its networks' input size sets the state's length.");
    return;
  }
  show(stateError, "");
  statesInput.value = Array.from({ length: loaded.contents.spec.inputs }, () => (Math.random() * 2 - 1).toFixed(4)).join(", ");
});

computeButton.addEventListener("click", () => serial(compute, computeError));
statesInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    serial(compute, computeError);
  }
});

// ---- computing --------------------------------------------------------------------------------

async function compute(): Promise<void> {
  if (!loaded) {
    show(stateError, gpu ? "Load a stack file first." : "This page needs WebGPU to compute (see the message at the top).");
    return;
  }
  const { stack, contents } = loaded;
  const inputs = contents.spec.inputs;
  const parsed = parseStates(statesInput.value, inputs);
  if ("error" in parsed) {
    show(stateError, parsed.error);
    return;
  }
  show(stateError, "");
  show(computeError, "");
  let logits: Float32Array;
  try {
    logits = await stackLogits(stack, parsed.states);
  } catch (error) {
    show(computeError, `The GPU evaluation failed: ${messageOf(error)}`);
    return;
  }
  const batch = parsed.lines.length;
  const names = Array.from({ length: contents.spec.outputs }, (_, a) => `action ${a}`);
  showTable(logits, batch, parsed.lines, names);

  // The stack view explains the first state: its CPU (float64) parts next to the GPU logits.
  const first = parsed.states.subarray(0, inputs);
  try {
    const parts = snapshotContributions(
      { spec: contents.spec, snapshots: contents.snapshots, coefficients: contents.coefficients, correction: contents.correction },
      first,
    );
    view.update({
      coefficients: contents.coefficients,
      correction: contents.correction,
      memory: contents.memory,
      contributions: parts,
      logits: logits.subarray(0, contents.spec.outputs),
      actionNames: names,
    });
    viewState.textContent = `State 1 (line ${parsed.lines[0]}): ${describeState(first)}.`;
  } catch (error) {
    show(computeError, `Could not draw the stack view: ${messageOf(error)}`);
  }
  computed++;
  document.body.dataset.computed = String(computed);
}

/** A state as text; a long one (images) is shortened, saying so. */
function describeState(state: Float32Array): string {
  const shown = Array.from(state.subarray(0, 12), (v) => formatNumber(v, 4)).join(", ");
  return state.length > 12 ? `${shown}, … (${state.length} values in all; the first 12 shown)` : shown;
}

function cell(tag: "td" | "th", text: string, attributes: Record<string, string> = {}): HTMLTableCellElement {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

/** One row per state: the logits, π and the greedy action; every state, however many. */
function showTable(logits: Float32Array, batch: number, lines: number[], names: string[]): void {
  const actions = names.length;
  const head = document.createElement("thead");
  const top = document.createElement("tr");
  top.append(
    cell("th", "", { rowspan: "2" }),
    cell("th", "logit ξ(s,a)", { colspan: String(actions) }),
    cell("th", "π(a|s)", { colspan: String(actions) }),
    cell("th", "greedy", { rowspan: "2" }),
  );
  const sub = document.createElement("tr");
  for (let k = 0; k < 2; k++) for (const name of names) sub.append(cell("th", name));
  head.append(top, sub);

  const body = document.createElement("tbody");
  for (let b = 0; b < batch; b++) {
    const row = logits.subarray(b * actions, (b + 1) * actions);
    const pi = softmax(row);
    const greedy = greedyAction(row);
    const tr = document.createElement("tr");
    tr.append(cell("th", `line ${lines[b]}`, { scope: "row" }));
    // float32 logits: 7 significant digits show them to their precision.
    for (let a = 0; a < actions; a++) tr.append(cell("td", formatNumber(row[a], 7), { title: String(row[a]) }));
    for (let a = 0; a < actions; a++) tr.append(cell("td", pi[a].toFixed(4), { title: String(pi[a]) }));
    tr.append(cell("td", names[greedy]));
    body.append(tr);
  }
  output.replaceChildren(head, body);
  output.dataset.batch = String(batch);
  output.dataset.logits = JSON.stringify(Array.from(logits));
  // Many actions or states make the table larger than its box: say so, so no column or row is
  // missed (every value is there; hover a number for its full precision).
  const wide = outputScroll.scrollWidth > outputScroll.clientWidth;
  const tall = outputScroll.scrollHeight > outputScroll.clientHeight;
  outputNote.hidden = !(wide || tall);
  outputNote.textContent =
    `${batch} state${batch === 1 ? "" : "s"} × ${actions} actions: scroll the table ` +
    [wide ? "sideways" : "", tall ? "down" : ""].filter(Boolean).join(" and ") +
    " to see all of it.";
}
