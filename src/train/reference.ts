/**
 * float64 reference of one training step of a Q-network: the forward pass that keeps its
 * activations, the loss on the taken actions' Q values, backpropagation, and Adam. The GPU trainer
 * is tested against these functions, and `staq fit` can be checked against PyTorch through them.
 *
 * Semantics follow PyTorch so that results can be compared with it:
 * - the network is an MLP with ReLU hidden layers and a linear head, weights [out, in] (nn.Linear),
 *   optionally behind a conv layer (nn.Conv2d on the state read as an image, src/stack/conv.ts);
 * - the loss is the mean over the batch of ℓ(q_b − y_b), q_b = Q(s_b, a_b): `"mse"` is
 *   nn.MSELoss (ℓ(d) = d²), `"huber"` is nn.HuberLoss(delta) (ℓ(d) = d²/2 for |d| ≤ δ, else
 *   δ(|d| − δ/2));
 * - Adam is torch.optim.Adam: optional L2 weight decay added to the gradient (not AdamW), bias
 *   correction, ε added to the corrected root; gradient clipping is clip_grad_norm_ (scale by
 *   maxNorm / (‖g‖₂ + 1e-6) when that is below 1), applied before the weight decay.
 */
import { StaqInputError } from "../errors.ts";
import { convGeometry, statePatches, type ConvGeometry } from "../stack/conv.ts";
import { layerShapes, type MlpSpec, type MlpWeights } from "../stack/mlp.ts";

/** An MLP's parameters in float64, PyTorch layout (weight [out, in], bias [out]). */
export interface MlpWeights64 {
  layers: { weight: Float64Array; bias: Float64Array }[];
}

export type TdLoss = "mse" | "huber";

export interface LossOptions {
  loss?: TdLoss;
  /** δ of the Huber loss (default 1, as PyTorch). */
  huberDelta?: number;
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty added to the gradient, as torch.optim.Adam's weight_decay (default 0). */
  weightDecay?: number;
  /** Clip the gradient to this global L2 norm first (default: no clipping). */
  maxGradNorm?: number;
}

/** Adam's moments and step count for one network (flat, PyTorch parameter order). */
export interface AdamState {
  m: Float64Array;
  v: Float64Array;
  step: number;
}

export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 } as const;
/** clip_grad_norm_ adds this to the norm before dividing. */
export const CLIP_NORM_EPS = 1e-6;

/** Widens float32 weights to the float64 reference's form. */
export function toFloat64(weights: MlpWeights): MlpWeights64 {
  return { layers: weights.layers.map(({ weight, bias }) => ({ weight: Float64Array.from(weight), bias: Float64Array.from(bias) })) };
}

/** Rounds to float32 weights. */
export function toFloat32(weights: MlpWeights64): MlpWeights {
  return { layers: weights.layers.map(({ weight, bias }) => ({ weight: Float32Array.from(weight), bias: Float32Array.from(bias) })) };
}

/** All parameters in PyTorch order (layer 0 weight, layer 0 bias, layer 1 weight, …). */
export function flattenParameters(weights: { layers: { weight: ArrayLike<number>; bias: ArrayLike<number> }[] }): Float64Array {
  const total = weights.layers.reduce((n, { weight, bias }) => n + weight.length + bias.length, 0);
  const flat = new Float64Array(total);
  let offset = 0;
  for (const { weight, bias } of weights.layers) {
    flat.set(weight, offset);
    offset += weight.length;
    flat.set(bias, offset);
    offset += bias.length;
  }
  return flat;
}

/** The inverse of flattenParameters for `spec`. */
export function unflattenParameters(spec: MlpSpec, flat: Float64Array): MlpWeights64 {
  let offset = 0;
  const take = (n: number) => flat.slice(offset, (offset += n));
  return { layers: layerShapes(spec).map(({ inputs, outputs }) => ({ weight: take(inputs * outputs), bias: take(outputs) })) };
}

/**
 * The forward pass over a batch, keeping every layer's output: `activations[0]` is the input
 * [B × inputs], `activations[l + 1]` the output of layer l [B × out_l] (after ReLU for hidden
 * layers; the head's Q values last). A conv layer's output is [B × filters·H'·W'], flattened in
 * PyTorch's order.
 */
export function forwardActivations(spec: MlpSpec, net: MlpWeights64, states: ArrayLike<number>, batch: number): Float64Array[] {
  const shapes = layerShapes(spec);
  if (states.length !== batch * spec.inputs)
    throw new StaqInputError(`forward: ${states.length} state values for a batch of ${batch} × ${spec.inputs}`);
  const activations: Float64Array[] = [Float64Array.from(states)];
  shapes.forEach((_, l) => {
    const hidden = l < shapes.length - 1;
    const y = layerForward(spec, l, net.layers[l], activations[l], batch);
    if (hidden) for (let k = 0; k < y.length; k++) if (y[k] < 0) y[k] = 0;
    activations.push(y);
  });
  return activations;
}

/**
 * Layer l's pre-activations W x + b for a batch of its inputs x [B × in_l]: [B × out_l] for a dense
 * layer; for a conv layer x is the states and the result [B × filters·H'·W'] (conv.ts).
 */
export function layerForward(
  spec: MlpSpec,
  l: number,
  layer: { weight: ArrayLike<number>; bias: ArrayLike<number> },
  x: ArrayLike<number>,
  batch: number,
): Float64Array {
  const { inputs, outputs } = layerShapes(spec)[l];
  const { weight, bias } = layer;
  const conv = l === 0 && spec.conv ? convGeometry(spec.conv) : undefined;
  const positions = conv?.positions ?? 1;
  const features = outputs * positions;
  const y = new Float64Array(batch * features);
  for (let b = 0; b < batch; b++) {
    const xs = conv ? rowPatches(conv, x, b) : x;
    for (let q = 0; q < features; q++) {
      const o = Math.floor(q / positions);
      const from = conv ? (q % positions) * inputs : b * inputs;
      let sum = bias[o];
      for (let i = 0; i < inputs; i++) sum += weight[o * inputs + i] * xs[from + i];
      y[b * features + q] = sum;
    }
  }
  return y;
}

/** The patches of state b of a batch of states (conv.ts). */
function rowPatches(conv: ConvGeometry, states: ArrayLike<number>, b: number): Float64Array {
  const length = conv.height * conv.width * conv.channels;
  return statePatches(conv, Array.prototype.slice.call(states, b * length, (b + 1) * length) as number[]);
}

/**
 * Layer l's parameter gradients from dy = dLoss/d(pre-activation) [B × out_l] and its inputs x, and
 * the gradient with respect to x (before the ReLU that produced x; absent for a conv layer, whose
 * inputs are the states).
 */
export function layerBackward(
  spec: MlpSpec,
  l: number,
  weight: ArrayLike<number>,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  batch: number,
): { weight: Float64Array; bias: Float64Array; dx?: Float64Array } {
  const { inputs, outputs } = layerShapes(spec)[l];
  const conv = l === 0 && spec.conv ? convGeometry(spec.conv) : undefined;
  const positions = conv?.positions ?? 1;
  const features = outputs * positions;
  const g = { weight: new Float64Array(inputs * outputs), bias: new Float64Array(outputs) };
  const dx = conv ? undefined : new Float64Array(batch * inputs);
  for (let b = 0; b < batch; b++) {
    const xs = conv ? rowPatches(conv, x, b) : x;
    for (let q = 0; q < features; q++) {
      const d = dy[b * features + q];
      if (d === 0) continue;
      const o = Math.floor(q / positions);
      const from = conv ? (q % positions) * inputs : b * inputs;
      g.bias[o] += d;
      for (let i = 0; i < inputs; i++) {
        g.weight[o * inputs + i] += d * xs[from + i];
        if (dx) dx[b * inputs + i] += d * weight[o * inputs + i];
      }
    }
  }
  return dx ? { ...g, dx } : g;
}

/** ℓ(d) and dℓ/dd for one residual d = q − y. */
export function residualLoss(d: number, options: LossOptions = {}): { value: number; slope: number } {
  if ((options.loss ?? "mse") === "mse") return { value: d * d, slope: 2 * d };
  const delta = options.huberDelta ?? 1;
  if (Math.abs(d) <= delta) return { value: 0.5 * d * d, slope: d };
  return { value: delta * (Math.abs(d) - 0.5 * delta), slope: delta * Math.sign(d) };
}

/**
 * The loss on the taken actions, mean over the batch, and its gradient with respect to the head's
 * outputs [B × A] (non-zero only at the taken actions).
 */
export function takenActionLoss(
  q: Float64Array,
  actionCount: number,
  actions: ArrayLike<number>,
  targets: ArrayLike<number>,
  options: LossOptions = {},
): { loss: number; dq: Float64Array } {
  const batch = actions.length;
  if (targets.length !== batch || q.length !== batch * actionCount) {
    throw new StaqInputError(`loss: ${batch} actions, ${targets.length} targets and ${q.length / actionCount} rows of Q values must agree`);
  }
  const dq = new Float64Array(q.length);
  let loss = 0;
  for (let b = 0; b < batch; b++) {
    const index = b * actionCount + actions[b];
    const { value, slope } = residualLoss(q[index] - targets[b], options);
    loss += value;
    dq[index] = slope / batch;
  }
  return { loss: loss / batch, dq };
}

/** Backpropagation of `dHead` (dLoss/dQ, [B × A]) through the network: the gradient of every parameter. */
export function backward(spec: MlpSpec, net: MlpWeights64, activations: Float64Array[], dHead: Float64Array, batch: number): MlpWeights64 {
  const layers = layerShapes(spec).length;
  const grads: MlpWeights64 = { layers: [] };
  let dy = dHead;
  for (let l = layers - 1; l >= 0; l--) {
    const x = activations[l];
    const { weight, bias, dx } = layerBackward(spec, l, net.layers[l].weight, x, dy, batch);
    grads.layers[l] = { weight, bias };
    if (l === 0 || !dx) break;
    // Through the ReLU that produced x (layer l − 1's output): zero where it was not active.
    for (let k = 0; k < dx.length; k++) if (!(x[k] > 0)) dx[k] = 0;
    dy = dx;
  }
  return grads;
}

/** Loss and gradient of one step, the composition of the three functions above. */
export function lossAndGradient(
  spec: MlpSpec,
  net: MlpWeights64,
  batch: { states: ArrayLike<number>; actions: ArrayLike<number>; targets: ArrayLike<number> },
  options: LossOptions = {},
): { loss: number; grads: MlpWeights64; q: Float64Array } {
  const n = batch.actions.length;
  const activations = forwardActivations(spec, net, batch.states, n);
  const q = activations[activations.length - 1];
  const { loss, dq } = takenActionLoss(q, spec.outputs, batch.actions, batch.targets, options);
  return { loss, grads: backward(spec, net, activations, dq, n), q };
}

export function createAdamState(parameterCount: number): AdamState {
  return { m: new Float64Array(parameterCount), v: new Float64Array(parameterCount), step: 0 };
}

/** The global L2 norm of a flat gradient. */
export function gradientNorm(grads: Float64Array): number {
  let sum = 0;
  for (const g of grads) sum += g * g;
  return Math.sqrt(sum);
}

/**
 * One Adam step on flat parameters (updated in place, as the state), in torch.optim.Adam's
 * order of operations. Returns the gradient's norm before clipping.
 */
export function adamStep(params: Float64Array, grads: Float64Array, state: AdamState, options: AdamOptions): number {
  const beta1 = options.beta1 ?? ADAM_DEFAULTS.beta1;
  const beta2 = options.beta2 ?? ADAM_DEFAULTS.beta2;
  const eps = options.eps ?? ADAM_DEFAULTS.eps;
  const weightDecay = options.weightDecay ?? ADAM_DEFAULTS.weightDecay;
  const norm = gradientNorm(grads);
  const clip = options.maxGradNorm === undefined ? 1 : Math.min(1, options.maxGradNorm / (norm + CLIP_NORM_EPS));
  state.step++;
  const correction1 = 1 - beta1 ** state.step;
  const correction2Root = Math.sqrt(1 - beta2 ** state.step);
  const stepSize = options.lr / correction1;
  for (let k = 0; k < params.length; k++) {
    const g = grads[k] * clip + weightDecay * params[k];
    state.m[k] = beta1 * state.m[k] + (1 - beta1) * g;
    state.v[k] = beta2 * state.v[k] + (1 - beta2) * g * g;
    params[k] -= (stepSize * state.m[k]) / (Math.sqrt(state.v[k]) / correction2Root + eps);
  }
  return norm;
}

/** Polyak averaging, in place: target ← (1 − ρ)·target + ρ·online. */
export function polyakUpdate(target: Float64Array, online: Float64Array, rho: number): void {
  for (let k = 0; k < target.length; k++) target[k] = (1 - rho) * target[k] + rho * online[k];
}
