/**
 * A picture of a stack's policy on one state, for the demo pages (the stack viewer and the
 * training demo). It shows, top to bottom, the three things that make up
 *
 *     ξ(s) = correction · mean_e Σ_i c[e,i] · Q_{e,i}(s),   π(·|s) = softmax(ξ(s))
 *
 *   1. the weights: the M slots of the stack, oldest → newest, each bar correction · mean_e c[e,i]
 *      (slots not filled yet are drawn empty);
 *   2. the policy: per action the logit ξ(s,a) and π(a|s), with their numbers;
 *   3. the parts: what each stored snapshot adds to each action's logit, and a line checking that
 *      these parts (float64, CPU) add up to the logits the GPU computed (float32).
 *
 * Plain DOM and canvas 2D, no library. Colours come from the page's CSS variables (--fg, --muted,
 * --accent, --accent-2, --line), read at every draw, so the charts follow a light or dark scheme.
 * The canvases are drawn at devicePixelRatio and redrawn when the container is resized or the
 * colour scheme changes.
 */
import type { SnapshotContributions } from "../src/index.ts";
import { niceStep, prepareCanvas } from "./canvas.ts";

export interface StackViewData {
  /** Per ensemble member, c_i oldest first (Stack.coefficients or StackFileContents.coefficients). */
  coefficients: readonly ArrayLike<number>[];
  correction: number;
  /** M, the number of slots per member. */
  memory: number;
  /** From snapshotContributions(contents, state). */
  contributions: SnapshotContributions;
  /** The GPU logits of this state, [actions]. */
  logits: ArrayLike<number>;
  /** e.g. ["push left", "push right"]; default "action 0", "action 1", ... */
  actionNames?: readonly string[];
}

export interface StackView {
  update(data: StackViewData): void;
}

/** The page's colours, read from its CSS variables when drawing. */
interface Palette {
  fg: string;
  muted: string;
  accent: string;
  accent2: string;
  line: string;
  font: string;
}

/**
 * Colours for actions 2, 3, ...: mid-tone hues that read on white and on a dark background
 * (actions 0 and 1 take the page's two accents). Past this list, hues go round the colour wheel.
 */
const MORE_ACTION_COLOURS = ["#2f9e68", "#8b5cf6", "#d6457f", "#1f9fa8", "#b8860b", "#7a8699", "#e05252", "#4c7be0"];

function actionColour(action: number, palette: Palette): string {
  if (action === 0) return palette.accent;
  if (action === 1) return palette.accent2;
  const k = action - 2;
  if (k < MORE_ACTION_COLOURS.length) return MORE_ACTION_COLOURS[k];
  return `hsl(${Math.round((k * 137.508) % 360)}, 60%, 52%)`; // golden angle: neighbours differ
}

/** A short, aligned-looking number: 4 significant digits, exponent form when tiny or huge. */
export function formatNumber(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const size = Math.abs(x);
  if (size >= 1e5 || size < 1e-3) return x.toExponential(digits - 2);
  return Number(x.toPrecision(digits)).toString();
}

/** π = softmax(logits) in float64, with the max subtracted so large logits do not overflow. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let a = 0; a < logits.length; a++) max = Math.max(max, logits[a]);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let a = 0; a < logits.length; a++) sum += p[a] = Math.exp(logits[a] - max);
  for (let a = 0; a < logits.length; a++) p[a] /= sum;
  return p;
}

/** The first action of largest logit (ties go to the lower index, as argmax does). */
export function greedyAction(logits: ArrayLike<number>): number {
  let best = 0;
  for (let a = 1; a < logits.length; a++) if (logits[a] > logits[best]) best = a;
  return best;
}

function readPalette(element: HTMLElement): Palette {
  const style = getComputedStyle(element);
  const pick = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    fg: pick("--fg", "#1d2430"),
    muted: pick("--muted", "#5b6675"),
    accent: pick("--accent", "#2b6cb0"),
    accent2: pick("--accent-2", "#c05621"),
    line: pick("--line", "#d5dbe3"),
    font: style.fontFamily || "sans-serif",
  };
}

/** The value range of a bar chart: always includes 0 (bars start there), never empty. */
function valueRange(values: Iterable<number>): { lo: number; hi: number } {
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo === hi) hi = 1;
  return { lo, hi };
}

const SMALL = 11; // px, labels
const TEXT = 12; // px, values and messages

function setFont(ctx: CanvasRenderingContext2D, palette: Palette, size: number, weight = ""): void {
  ctx.font = `${weight} ${size}px ${palette.font}`.trim();
}

/** The y axis of a bar chart: labels for hi, 0 and lo, and a line at 0. */
function drawValueAxis(
  ctx: CanvasRenderingContext2D,
  palette: Palette,
  box: Box,
  y: (v: number) => number,
  range: { lo: number; hi: number },
): void {
  setFont(ctx, palette, SMALL);
  ctx.fillStyle = palette.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const ticks = [range.hi, 0, range.lo].filter((v, k, all) => all.indexOf(v) === k);
  for (const v of ticks) {
    // Skip a tick too close to the zero tick: two labels on top of each other read as one.
    if (v !== 0 && Math.abs(y(v) - y(0)) < SMALL) continue;
    ctx.fillText(formatNumber(v, 3), box.left - 5, y(v));
    ctx.strokeStyle = palette.line;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(box.left, Math.round(y(v)) + 0.5);
    ctx.lineTo(box.left + box.width, Math.round(y(v)) + 0.5);
    ctx.stroke();
  }
  ctx.strokeStyle = palette.muted; // the zero line is the bars' base: darker than the grid
  ctx.beginPath();
  ctx.moveTo(box.left, Math.round(y(0)) + 0.5);
  ctx.lineTo(box.left + box.width, Math.round(y(0)) + 0.5);
  ctx.stroke();
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Labels under a snapshot/slot axis: the first and last positions, named, and a few between. */
function drawPositionLabels(
  ctx: CanvasRenderingContext2D,
  palette: Palette,
  box: Box,
  count: number,
  x: (i: number) => number,
  labels: Map<number, string>,
): void {
  setFont(ctx, palette, SMALL);
  ctx.fillStyle = palette.muted;
  ctx.textBaseline = "top";
  const placed: { from: number; to: number }[] = [];
  const place = (i: number, text: string) => {
    const width = ctx.measureText(text).width;
    const cx = x(i);
    // Keep labels inside the canvas and off each other.
    const from = Math.max(0, Math.min(cx - width / 2, box.left + box.width - width));
    if (placed.some((p) => from < p.to + 8 && from + width > p.from - 8)) return;
    placed.push({ from, to: from + width });
    ctx.textAlign = "left";
    ctx.fillText(text, from, box.top + box.height + 4);
  };
  for (const [i, text] of labels) place(i, text); // the named ones first: they matter most
  // At most one numbered label per 60 px, at round positions.
  const step = niceStep(Math.max(1, count / Math.max(1, Math.floor(box.width / 60))));
  for (let i = step - 1; i < count; i += step) place(i, String(i + 1));
}

/** (a) The M slots: correction · mean_e c[e,i] per stored snapshot, then the empty slots. */
function drawSlots(canvas: HTMLCanvasElement, palette: Palette, data: StackViewData, stored: number): void {
  const height = 160;
  const prepared = prepareCanvas(canvas, height);
  if (!prepared) return;
  const { ctx, width } = prepared;
  const members = data.coefficients.length;
  const weights = Array.from({ length: stored }, (_, i) => {
    let sum = 0;
    for (let e = 0; e < members; e++) sum += data.coefficients[e][i];
    return (data.correction * sum) / members;
  });
  // 18 px on top: room for the values written above the bars when the slots are wide.
  const box: Box = { left: 52, top: 18, width: width - 52 - 10, height: height - 18 - 22 };
  const range = valueRange(weights);
  const y = (v: number) => box.top + ((range.hi - v) / (range.hi - range.lo)) * box.height;
  const slot = box.width / data.memory;
  const x = (i: number) => box.left + (i + 0.5) * slot;
  if (stored > 0) drawValueAxis(ctx, palette, box, y, range); // no values, no value axis

  // Empty slots: a faint band, outlined per slot when slots are wide enough to tell apart.
  if (stored < data.memory) {
    const from = box.left + stored * slot;
    ctx.fillStyle = palette.line;
    ctx.globalAlpha = 0.35;
    ctx.fillRect(from, box.top, box.left + box.width - from, box.height);
    ctx.globalAlpha = 1;
    if (slot >= 6) {
      ctx.strokeStyle = palette.line;
      ctx.setLineDash([3, 3]);
      for (let i = stored; i < data.memory; i++) ctx.strokeRect(box.left + i * slot + 1.5, box.top + 0.5, slot - 3, box.height - 1);
      ctx.setLineDash([]);
    }
    const text = `${data.memory - stored} empty slot${data.memory - stored === 1 ? "" : "s"}`;
    setFont(ctx, palette, TEXT);
    if (ctx.measureText(text).width + 8 < box.left + box.width - from) {
      ctx.fillStyle = palette.muted;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(text, (from + box.left + box.width) / 2, box.top + box.height / 2);
    }
  }

  // Stored snapshots: bars from 0; a gap between bars only when there is room for one.
  const barWidth = slot >= 4 ? slot * 0.75 : slot;
  ctx.fillStyle = palette.accent;
  weights.forEach((w, i) => {
    const top = Math.min(y(w), y(0));
    ctx.fillRect(x(i) - barWidth / 2, top, barWidth, Math.max(1, Math.abs(y(w) - y(0))));
  });
  if (slot >= 40) {
    setFont(ctx, palette, SMALL);
    ctx.fillStyle = palette.fg;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    weights.forEach((w, i) => ctx.fillText(formatNumber(w, 3), x(i), Math.min(y(w), y(0)) - 2));
  }

  const labels = new Map<number, string>();
  if (stored > 0) labels.set(0, "1 oldest");
  if (stored > 1) labels.set(stored - 1, `${stored} newest`);
  if (stored < data.memory) labels.set(data.memory - 1, `M = ${data.memory}`);
  drawPositionLabels(ctx, palette, box, data.memory, x, labels);
}

/** (b) Per action: the logit ξ(s,a) and π(a|s), as bars with their numbers. */
function drawPolicy(canvas: HTMLCanvasElement, palette: Palette, logits: ArrayLike<number>, names: readonly string[]): void {
  const actions = logits.length;
  const row = 20;
  const header = 18;
  const height = header + actions * row + 4;
  const prepared = prepareCanvas(canvas, height);
  if (!prepared) return;
  const { ctx, width } = prepared;
  const pi = softmax(logits);
  const greedy = greedyAction(logits);

  setFont(ctx, palette, TEXT, "600");
  const nameWidth = Math.min(width * 0.3, Math.max(...names.map((n) => ctx.measureText(n).width)) + 14);
  const valueWidth = 64;
  const barsWidth = width - nameWidth - 2 * valueWidth - 24;
  const logitBox = { left: nameWidth, width: barsWidth * 0.55 };
  const piBox = { left: nameWidth + logitBox.width + valueWidth + 16, width: barsWidth * 0.45 };

  const range = valueRange(Array.from(logits));
  const lx = (v: number) => logitBox.left + ((v - range.lo) / (range.hi - range.lo)) * logitBox.width;
  setFont(ctx, palette, SMALL);
  ctx.fillStyle = palette.muted;
  ctx.textBaseline = "top";
  ctx.textAlign = "left";
  ctx.fillText("logit ξ(s,a)", logitBox.left, 2);
  ctx.fillText("π(a|s)", piBox.left, 2);

  // The zero line of the logits and the π = 1 end of the probabilities.
  ctx.strokeStyle = palette.muted;
  ctx.beginPath();
  ctx.moveTo(Math.round(lx(0)) + 0.5, header);
  ctx.lineTo(Math.round(lx(0)) + 0.5, header + actions * row);
  ctx.stroke();
  ctx.strokeStyle = palette.line;
  ctx.strokeRect(piBox.left + 0.5, header + 0.5, piBox.width, actions * row - 1);

  for (let a = 0; a < actions; a++) {
    const top = header + a * row;
    const mid = top + row / 2;
    const colour = actionColour(a, palette);
    setFont(ctx, palette, TEXT, a === greedy ? "700" : "");
    ctx.fillStyle = palette.fg;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.fillText(names[a], nameWidth - 8, mid, nameWidth - 10);

    ctx.fillStyle = colour;
    const from = Math.min(lx(0), lx(logits[a]));
    ctx.fillRect(from, top + 4, Math.max(1, Math.abs(lx(logits[a]) - lx(0))), row - 8);
    ctx.fillRect(piBox.left, top + 4, Math.max(1, pi[a] * piBox.width), row - 8);

    setFont(ctx, palette, TEXT, a === greedy ? "700" : "");
    ctx.fillStyle = palette.fg;
    ctx.textAlign = "left";
    ctx.fillText(formatNumber(logits[a], 5), logitBox.left + logitBox.width + 8, mid);
    ctx.fillText(pi[a].toFixed(4), piBox.left + piBox.width + 8, mid);
  }
}

/**
 * (c) What each stored snapshot adds to each action's logit: grouped bars (one group per
 * snapshot, one colour per action) while the bars stay at least 2 px wide, otherwise one line per
 * action across the snapshots (M = 300 snapshots × 18 actions would not fit as bars).
 */
function drawContributions(
  canvas: HTMLCanvasElement,
  palette: Palette,
  contributions: SnapshotContributions,
  names: readonly string[],
): void {
  const { stored, actions } = contributions;
  const values = contributions.contributions;
  // The legend goes first, wrapped over as many lines as it needs; the canvas grows with it.
  const probe = canvas.getContext("2d");
  const width = Math.floor(canvas.getBoundingClientRect().width);
  if (!probe || width <= 0) return;
  setFont(probe, palette, SMALL);
  const legend: { a: number; x: number; line: number }[] = [];
  let lx = 52;
  let line = 0;
  for (let a = 0; a < actions; a++) {
    const itemWidth = 14 + probe.measureText(names[a]).width + 14;
    if (lx + itemWidth > width - 10 && lx > 52) {
      lx = 52;
      line++;
    }
    legend.push({ a, x: lx, line });
    lx += itemWidth;
  }
  const legendHeight = (line + 1) * 16 + 6;
  const plotHeight = 180;
  const height = legendHeight + plotHeight + 24;
  const prepared = prepareCanvas(canvas, height);
  if (!prepared) return;
  const { ctx } = prepared;

  setFont(ctx, palette, SMALL);
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  for (const item of legend) {
    const cy = 8 + item.line * 16;
    ctx.fillStyle = actionColour(item.a, palette);
    ctx.fillRect(item.x, cy - 5, 10, 10);
    ctx.fillStyle = palette.fg;
    ctx.fillText(names[item.a], item.x + 14, cy);
  }

  const box: Box = { left: 52, top: legendHeight + 4, width: width - 52 - 10, height: plotHeight };
  if (stored === 0) {
    ctx.strokeStyle = palette.line;
    ctx.strokeRect(box.left + 0.5, box.top + 0.5, box.width, box.height);
    setFont(ctx, palette, TEXT);
    ctx.fillStyle = palette.muted;
    ctx.textAlign = "center";
    ctx.fillText("No stored snapshots: every logit is 0 and π is uniform.", box.left + box.width / 2, box.top + box.height / 2);
    return;
  }

  const range = valueRange(values);
  const y = (v: number) => box.top + ((range.hi - v) / (range.hi - range.lo)) * box.height;
  const group = box.width / stored;
  const x = (i: number) => box.left + (i + 0.5) * group;
  drawValueAxis(ctx, palette, box, y, range);

  const barWidth = (group * (group >= 8 ? 0.8 : 1)) / actions;
  if (barWidth >= 2) {
    for (let i = 0; i < stored; i++) {
      const start = x(i) - (barWidth * actions) / 2;
      for (let a = 0; a < actions; a++) {
        const v = values[i * actions + a];
        ctx.fillStyle = actionColour(a, palette);
        ctx.fillRect(
          start + a * barWidth,
          Math.min(y(v), y(0)),
          Math.max(1, barWidth - (barWidth >= 4 ? 1 : 0)),
          Math.max(1, Math.abs(y(v) - y(0))),
        );
      }
    }
  } else {
    ctx.lineWidth = 1.5;
    for (let a = 0; a < actions; a++) {
      ctx.strokeStyle = actionColour(a, palette);
      ctx.beginPath();
      for (let i = 0; i < stored; i++) {
        const v = values[i * actions + a];
        if (i === 0) ctx.moveTo(x(i), y(v));
        else ctx.lineTo(x(i), y(v));
      }
      ctx.stroke();
    }
    ctx.lineWidth = 1;
  }
  const labels = new Map<number, string>([[0, "1 oldest"]]);
  if (stored > 1) labels.set(stored - 1, `${stored} newest`);
  drawPositionLabels(ctx, palette, box, stored, x, labels);
}

/** Throws with a plain message when the pieces of `data` do not fit together. */
function checkData(data: StackViewData): void {
  const { contributions, logits, coefficients, memory } = data;
  if (!(Number.isInteger(memory) && memory >= 1)) throw new Error(`stack view: memory must be an integer >= 1; got ${memory}`);
  if (contributions.stored > memory) throw new Error(`stack view: ${contributions.stored} stored snapshots but only M = ${memory} slots`);
  if (logits.length !== contributions.actions) {
    throw new Error(`stack view: ${logits.length} logits but the contributions are for ${contributions.actions} actions`);
  }
  if (coefficients.length < 1) throw new Error("stack view: no ensemble members in the coefficients");
  for (const [e, c] of coefficients.entries()) {
    if (c.length !== contributions.stored) {
      throw new Error(
        `stack view: member ${e} has ${c.length} coefficients but the contributions are for ${contributions.stored} snapshots`,
      );
    }
  }
}

function section(container: HTMLElement, title: string): { caption: HTMLParagraphElement; canvas: HTMLCanvasElement } {
  const heading = document.createElement("h3");
  heading.textContent = title;
  const caption = document.createElement("p");
  caption.className = "help";
  const canvas = document.createElement("canvas");
  container.append(heading, caption, canvas);
  return { caption, canvas };
}

export function createStackView(container: HTMLElement): StackView {
  const root = document.createElement("div");
  root.className = "stack-view";
  container.replaceChildren(root);
  const slots = section(root, "Weights of the stack's slots");
  const policy = section(root, "Policy on this state");
  const parts = section(root, "What each snapshot adds to the logits");
  const sum = document.createElement("p");
  sum.className = "stack-view-sum";
  root.append(sum);

  let last: StackViewData | null = null;
  let lastWidth = 0;

  function draw(): void {
    if (!last) return;
    const data = last;
    const palette = readPalette(root);
    const { stored, actions } = data.contributions;
    const names = Array.from({ length: actions }, (_, a) => data.actionNames?.[a] ?? `action ${a}`);
    drawSlots(slots.canvas, palette, data, stored);
    drawPolicy(policy.canvas, palette, data.logits, names);
    drawContributions(parts.canvas, palette, data.contributions, names);
    lastWidth = root.getBoundingClientRect().width;
  }

  function describe(data: StackViewData): void {
    const { stored, actions } = data.contributions;
    const members = data.coefficients.length;
    const names = Array.from({ length: actions }, (_, a) => data.actionNames?.[a] ?? `action ${a}`);
    let total = 0;
    for (const c of data.coefficients) for (let i = 0; i < c.length; i++) total += (data.correction * c[i]) / members;
    slots.caption.textContent =
      `Bar i = correction · mean over the ${members} ensemble member${members === 1 ? "" : "s"} of c_i: the weight of snapshot i's Q-values ` +
      `in the logits. ${stored} of M = ${data.memory} slots filled; the weights sum to ${formatNumber(total, 6)}` +
      (stored === data.memory ? "; the next push drops the oldest." : ".");
    const greedy = greedyAction(data.logits);
    policy.caption.textContent = `Logits from the GPU (float32); π = softmax of the logits. Greedy action (in bold): ${names[greedy]}.`;
    parts.caption.textContent =
      stored === 0
        ? "The stack is empty."
        : `Snapshot i's part of logit a: correction · mean_e c[e,i] · Q_{e,i}(s, a), float64 on the CPU; oldest → newest, one colour per action.`;

    // The check that the parts are the whole: Σ_i parts (float64) next to the GPU's logit.
    if (stored === 0) {
      sum.textContent = `No snapshots are stored, so every logit is 0 (GPU: ${Array.from(data.logits, (v) => formatNumber(v, 6)).join(", ")}) and π is uniform.`;
      sum.dataset.maxDifference = String(Math.max(0, ...Array.from(data.logits, Math.abs)));
      return;
    }
    let maxDifference = 0;
    const pairs = names.map((name, a) => {
      const cpu = data.contributions.logits[a];
      const gpu = data.logits[a];
      maxDifference = Math.max(maxDifference, Math.abs(cpu - gpu));
      return `${name}: ${formatNumber(cpu, 7)} vs ${formatNumber(gpu, 7)}`;
    });
    sum.textContent =
      `The ${stored} snapshot${stored === 1 ? "'s part adds" : "s' parts add"} up to the logits — Σ over snapshots (float64, CPU) vs GPU logit (float32): ` +
      `${pairs.join("; ")}. Largest difference ${maxDifference.toExponential(2)}.`;
    sum.dataset.maxDifference = String(maxDifference);
  }

  // Redraw when the width changes (the canvases are as wide as the container) ...
  new ResizeObserver(() => {
    if (last && Math.abs(root.getBoundingClientRect().width - lastWidth) >= 1) draw();
  }).observe(root);
  // ... and when the colour scheme changes (the CSS variables change with it).
  window.matchMedia?.("(prefers-color-scheme: dark)").addEventListener?.("change", draw);

  return {
    update(data: StackViewData): void {
      checkData(data);
      last = data;
      describe(data);
      draw();
    },
  };
}
