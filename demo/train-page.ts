/**
 * The training demo: StaQ on CartPole-v1 in the tab (the `quick` preset, with M, η, τ and ε from
 * the controls), a cart animated by the current stack's greedy policy, the learning curve and a
 * view of the stack.
 *
 * Any config field can also be set in the address (?memory=10&stepsPerIteration=200&autostart=1),
 * which is how the browser tests make a short run; `autostart` starts training once the GPU is up.
 */
import {
  CONFIG_FIELDS,
  StaQ,
  makeEnv,
  parseDecimal,
  parseFieldValue,
  presetConfig,
  resolveConfig,
  snapshotContributions,
  stackLogits,
  stackToSafetensors,
  type EvaluationMetrics,
  type Gpu,
  type IterationMetrics,
  type MlpWeights,
  type StaqConfig,
} from "../src/index.ts";
import { drawCart } from "./cart-view.ts";
import { CurveView } from "./curve-view.ts";
import { openGpu } from "./open-gpu.ts";
import { createStackView } from "./stack-view.ts";

const ENV = "CartPole-v1";
const PRESET = "quick";
const ACTION_NAMES = ["push left", "push right"];
/** The cart steps at CartPole's own rate: its physics step is 0.02 s. */
const CART_STEP_MS = 20;
const STACK_VIEW_EVERY_MS = 300;

const element = <T extends HTMLElement>(id: string) => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
};
const inputs = {
  memory: element<HTMLInputElement>("memory"),
  eta: element<HTMLInputElement>("eta"),
  tauStart: element<HTMLInputElement>("tau"),
  epsilon: element<HTMLInputElement>("epsilon"),
};
const buttons = {
  start: element<HTMLButtonElement>("start"),
  pause: element<HTMLButtonElement>("pause"),
  reset: element<HTMLButtonElement>("reset"),
  download: element<HTMLButtonElement>("download"),
};
const status = element("status");
const errorBox = element("error");
const cartCanvas = element<HTMLCanvasElement>("cart");
const curve = new CurveView(element<HTMLCanvasElement>("curve"), () => 10 * (agent?.config ?? baseConfig).stepsPerIteration);
const stackView = createStackView(element("stack-view"));

type RunState = "idle" | "running" | "pausing" | "paused" | "done" | "error";

// The address's config fields and autostart, read once.
const { overrides: addressOverrides, autostart, addressError } = readAddress();
let baseConfig: StaqConfig = presetConfig(PRESET);
let gpu: Gpu | null = null;
let agent: StaQ | null = null;
let runState: RunState = "idle";
let wantRunning = false;
let loop: Promise<void> = Promise.resolve();
/** The stack as of the agent's last push (read back after each iteration, for the stack view). */
let snapshots: { weights: MlpWeights[][]; coefficients: Float64Array[]; correction: number } | null = null;

function readAddress(): { overrides: Record<string, unknown>; autostart: boolean; addressError: string | null } {
  const params = new URLSearchParams(location.search);
  const overrides: Record<string, unknown> = {};
  const known = new Set(CONFIG_FIELDS.map((field) => field.key as string));
  try {
    for (const [key, text] of params) {
      if (key === "autostart") continue;
      if (!known.has(key))
        throw new Error(
          `unknown setting ${JSON.stringify(key)} in the address; the settings are autostart and the config fields: ${[...known].join(", ")}`,
        );
      overrides[key] = parseFieldValue(key as keyof StaqConfig, text, key);
    }
    return { overrides, autostart: params.get("autostart") === "1", addressError: null };
  } catch (error) {
    return { overrides: {}, autostart: false, addressError: (error as Error).message };
  }
}

/** The config a new run gets: quick, the address's fields, then the controls. */
function configFromControls(): StaqConfig {
  const fromControls: Record<string, unknown> = {};
  for (const [key, input] of Object.entries(inputs)) {
    const value = parseDecimal(input.value);
    if (!Number.isFinite(value)) throw new Error(`${input.parentElement?.textContent?.trim() ?? key}: enter a number`);
    fromControls[key] = value;
  }
  const tauStart = fromControls.tauStart as number;
  return resolveConfig(baseConfig, { ...fromControls, tauEnd: tauStart / 5 });
}

function setRunState(state: RunState): void {
  runState = state;
  status.dataset.state = state;
  element("run-state").textContent = state;
  const ready = gpu !== null;
  buttons.start.disabled = !ready || state === "running" || state === "pausing" || state === "done";
  buttons.start.textContent = state === "paused" ? "Resume" : "Start";
  buttons.pause.disabled = state !== "running";
  buttons.reset.disabled = !ready || state === "pausing";
  buttons.download.disabled = agent === null || agent.stack.size === 0;
  for (const input of Object.values(inputs)) input.disabled = agent !== null;
}

function showError(error: unknown): void {
  errorBox.textContent = error instanceof Error ? error.message : String(error);
}

function format(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits);
}

function showIteration(m: IterationMetrics): void {
  status.dataset.iteration = String(m.iteration);
  status.dataset.stackSize = String(m["stack/size"]);
  status.dataset.globalStep = String(m.global_step);
  element("iteration").textContent = String(m.iteration);
  element("global-step").textContent = `${m.global_step} / ${agent?.config.totalSteps ?? "?"}`;
  element("stack-size").textContent = `${m["stack/size"]} / ${agent?.config.memory ?? "?"}`;
  element("tau-now").textContent = format(m["charts/tau"], 4);
  element("last-return").textContent = format(m["charts/episodic_return"]);
  element("kl").textContent = format(m["policy/kl"], 4);
  const seconds = m["time/collect_s"] + m["time/precompute_s"] + m["time/train_s"] + m["time/push_s"];
  element("iteration-time").textContent = format(seconds, 1);
  if (m["charts/episodic_return"] !== null) curve.addTraining({ step: m.global_step, value: m["charts/episodic_return"] });
}

function showEvaluation(m: EvaluationMetrics): void {
  element("last-eval").textContent = `${format(m["eval/mean_return"])} (step ${m.global_step})`;
  curve.addEvaluation({ step: m.global_step, value: m["eval/mean_return"], min: m["eval/min_return"], max: m["eval/max_return"] });
}

/** Trains iteration by iteration until paused, reset or done; the page stays live in between. */
async function train(): Promise<void> {
  if (!gpu) return;
  errorBox.textContent = "";
  try {
    if (!agent) {
      const config = configFromControls();
      setRunState("running");
      agent = await StaQ.create({ env: ENV, preset: PRESET, gpu, ...config });
      await readSnapshots(agent);
    }
    wantRunning = true;
    setRunState("running");
    const current = agent;
    while (wantRunning && current.globalStep < current.config.totalSteps) {
      await current.learn({ steps: current.config.stepsPerIteration, onIteration: showIteration, onEvaluation: showEvaluation });
      await readSnapshots(current);
      setRunState(wantRunning ? "running" : "pausing");
    }
    setRunState(current.globalStep >= current.config.totalSteps ? "done" : "paused");
  } catch (error) {
    showError(error);
    setRunState("error");
  }
}

async function readSnapshots(current: StaQ): Promise<void> {
  const { stack } = current;
  const coefficients = stack.coefficients;
  const correction = stack.correction;
  const weights = await stack.readSnapshots();
  snapshots = sameStack(stack, { coefficients, correction }) ? { weights, coefficients, correction } : null;
}

/**
 * True when the stack still has these coefficients: every push changes them (all shrink by β, a
 * new one is appended), so equal coefficients mean no push happened in between.
 */
function sameStack(stack: StaQ["stack"], saved: { coefficients: readonly Float64Array[]; correction: number }): boolean {
  const now = stack.coefficients;
  return (
    stack.correction === saved.correction &&
    now.length === saved.coefficients.length &&
    now.every((c, e) => c.length === saved.coefficients[e].length && c.every((x, i) => x === saved.coefficients[e][i]))
  );
}

buttons.start.addEventListener("click", () => {
  loop = train();
});
buttons.pause.addEventListener("click", () => {
  wantRunning = false;
  setRunState("pausing");
});
buttons.reset.addEventListener("click", async () => {
  wantRunning = false;
  setRunState("pausing");
  await loop;
  agent?.destroy();
  agent = null;
  snapshots = null;
  curve.clear();
  cart.restart();
  for (const id of ["iteration", "global-step", "stack-size"]) element(id).textContent = "0";
  for (const id of ["tau-now", "last-return", "last-eval", "kl", "iteration-time"]) element(id).textContent = "–";
  Object.assign(status.dataset, { iteration: "0", stackSize: "0", globalStep: "0" });
  setRunState("idle");
});
buttons.download.addEventListener("click", async () => {
  if (!agent) return;
  try {
    const bytes = await stackToSafetensors(agent.stack);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: "application/octet-stream" }));
    link.download = `cartpole-stack-iteration-${agent.iteration}.safetensors`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (error) {
    showError(error);
  }
});

/**
 * The animated episode: its own CartPole-v1 copy, stepped with the greedy action of whatever the
 * stack is at that moment (training goes on in between; acting never changes what training does).
 */
const cart = {
  env: makeEnv(ENV),
  obs: new Float32Array(4),
  episode: 0,
  length: 0,
  lastAction: null as number | null,
  busy: false,
  lastStep: 0,
  restart() {
    this.episode++;
    this.length = 0;
    this.lastAction = null;
    this.obs = Float32Array.from(this.env.reset({ seed: 1000 + this.episode }).obs);
  },
  async tick(now: number) {
    if (this.busy || now - this.lastStep < CART_STEP_MS) return;
    const current = agent;
    if (current && runState !== "error") {
      this.busy = true;
      this.lastStep = now;
      try {
        const [action] = await current.act(this.obs, { greedy: true });
        if (current !== agent) return; // reset while acting
        const step = this.env.step(action);
        this.lastAction = action;
        this.length++;
        this.obs = Float32Array.from(step.obs);
        if (step.terminated || step.truncated) this.restart();
      } catch (error) {
        if (current === agent) showError(error);
      } finally {
        this.busy = false;
      }
    }
    const caption = current ? `episode ${this.episode}, step ${this.length}` : "press Start to train";
    drawCart(cartCanvas, this.obs, this.lastAction, caption);
  },
};

/** The stack view on the cart's state: the GPU's logits and each snapshot's part of them. */
let stackViewBusy = false;
let stackViewAt = -Infinity;
async function refreshStackView(now: number): Promise<void> {
  if (stackViewBusy || now - stackViewAt < STACK_VIEW_EVERY_MS) return;
  const current = agent;
  const saved = snapshots;
  // The GPU's logits and the snapshots read back must be the same stack (no push in between,
  // checked before and after), so that the snapshots' parts add up to the logits shown.
  if (!current || !saved || !sameStack(current.stack, saved)) return;
  stackViewBusy = true;
  stackViewAt = now;
  try {
    const state = Float32Array.from(cart.obs);
    const { stack } = current;
    const logits = await stackLogits(stack, state);
    if (current !== agent || !sameStack(stack, saved)) return;
    const contents = { spec: stack.spec, snapshots: saved.weights, coefficients: saved.coefficients, correction: saved.correction };
    stackView.update({
      coefficients: saved.coefficients,
      correction: saved.correction,
      memory: stack.memory,
      contributions: snapshotContributions(contents, state),
      logits,
      actionNames: ACTION_NAMES,
    });
  } catch (error) {
    if (current === agent) showError(error);
  } finally {
    stackViewBusy = false;
  }
}

function frame(now: number): void {
  void cart.tick(now);
  void refreshStackView(now);
  requestAnimationFrame(frame);
}

async function main(): Promise<void> {
  cart.restart();
  requestAnimationFrame(frame);
  if (addressError) showError(addressError);
  try {
    baseConfig = resolveConfig(presetConfig(PRESET), addressOverrides);
  } catch (error) {
    showError(error);
  }
  inputs.memory.value = String(baseConfig.memory);
  inputs.eta.value = String(baseConfig.eta);
  inputs.tauStart.value = String(baseConfig.tauStart);
  inputs.epsilon.value = String(baseConfig.epsilon);
  gpu = await openGpu(element("gpu-status"));
  document.body.dataset.ready = gpu ? "1" : "no-gpu";
  setRunState("idle");
  if (!gpu) {
    element("controls-help").textContent = "Training needs WebGPU (see above).";
    return;
  }
  if (autostart && !addressError) loop = train();
}

void main();
