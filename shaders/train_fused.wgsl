// The fused trainer: `steps` whole gradient steps of one MLP per workgroup, one workgroup per
// ensemble member, in one dispatch (src/train/fused-step.ts drives it; the multi-dispatch
// kernels train_forward, train_loss, train_weight_grad, train_backward_input, train_grad_norm,
// train_adam and train_statistics compute the same step with one dispatch per piece, and
// src/train/reference.ts is the float64 twin of both). Each step, with a barrier between phases:
//
//   forward     every layer, out = act(W x + bias), kept in `scratch` for backprop;
//   loss        d = q[a] − y per row, ℓ(d) into loss_rows, dℓ/dq (one-hot) into scratch;
//   backward    per layer from the head down: the parameter gradient into `grads`, and (l > 0)
//               dx = relu'(x) · Wᵀ dy, both from the same dy, in one phase;
//   reductions  ‖grad‖² (when clipping, or the step whose norm is kept) and the step's loss and
//               |Q| sums, by one fixed tree over the 64 threads' partials;
//   adam        every parameter, with the step's bias-corrected constants from `schedule`.
//
// Every element is computed by the same arithmetic in the same order as the multi-dispatch
// kernels (forward sums over inputs in order from the bias; gradients over the batch in order
// from 0; input gradients over outputs in order; the norm and statistics by thread t's strided
// partial and the same tree), so the float32 bounds derived for those kernels hold here.
//
// The minibatch: with per_step_rows (the soft Q fit) step s trains on rows s·BATCH … of
// `states`, `actions` and `targets`, which the target plan (src/train/target-plan.ts) filled
// for the dispatch's steps; without (the trainer's full-batch `train`) every step trains on the
// same BATCH rows.
//
// Activations and gradients with respect to them live in `scratch` (storage, one region per
// member) rather than workgroup memory: a 2×64 network at batch 64 keeps 32 KiB of activations
// and 32 KiB of deltas, past WebGPU's default 16 KiB of workgroup memory (docs/kernels.md). Only
// one workgroup touches a member's region, so storageBarrier() orders its phases.

const LAYERS: u32 = 2u;                                                   // @inject hidden layers + head
const LAYER_ROWS: array<u32, 2> = array<u32, 2>(4u, 16u);                 // @inject rows of each stored weight
const LAYER_OUT4: array<u32, 2> = array<u32, 2>(4u, 1u);                  // @inject padded outputs / 4
const LAYER_WEIGHTS: array<u32, 2> = array<u32, 2>(0u, 20u);              // @inject vec4 offsets in a snapshot
const LAYER_BIAS: array<u32, 2> = array<u32, 2>(16u, 36u);                // @inject
const LAYER_ACTIVATIONS: array<u32, 2> = array<u32, 2>(0u, 256u);         // @inject vec4 offsets in a member's scratch
const DELTAS: array<u32, 2> = array<u32, 2>(320u, 576u);                  // @inject the two delta regions, vec4 offsets
const MEMBER_SCRATCH: u32 = 832u;                                         // @inject vec4s of scratch per member
const SNAPSHOT_VEC4S: u32 = 37u;                                          // @inject
const INPUTS: u32 = 4u;                                                   // @inject
const BATCH: u32 = 64u;                                                   // @inject

const WORKGROUP_SIZE: u32 = 64u;
const HEAD: u32 = LAYERS - 1u;

// @include td_loss
// @include adam_update

struct Fit {
  steps: u32,            // gradient steps this dispatch runs
  schedule_offset: u32,  // this dispatch's first step in `schedule`
  norm_at: u32,          // the step whose gradient norm goes to `norms` (≥ steps: none, unless clipping)
  grad_scale: f32,       // 2/B (MSE) or 1/B (Huber), rounded on the host as PyTorch rounds it
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  eps: f32,
  weight_decay: f32,
  max_norm: f32,
  // Options as uniform flags (0 or 1) rather than constants, so that one pipeline per network
  // shape serves every program: lavapipe takes tens of seconds to compile this kernel.
  per_step_rows: u32,    // step s trains on rows s·BATCH … (the soft Q fit's plan), else rows 0 … BATCH − 1
  clip: u32,             // clip_grad_norm_ to max_norm
  huber: u32,            // the Huber loss with huber_delta, else MSE
  huber_delta: f32,
  statistics: u32,       // add each step's mean loss and |Q| to `sums`
}

@group(0) @binding(0) var<uniform> fit: Fit;
@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;    // [E × SNAPSHOT_VEC4S]
@group(0) @binding(2) var<storage, read_write> grads: array<vec4<f32>>;     // [E × SNAPSHOT_VEC4S]
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> norms: array<f32>;           // [E]
@group(0) @binding(6) var<storage, read> states: array<f32>;                // [rows × INPUTS]
@group(0) @binding(7) var<storage, read> actions: array<u32>;               // [rows]
@group(0) @binding(8) var<storage, read> targets: array<f32>;               // [rows]
@group(0) @binding(9) var<storage, read> schedule: array<vec4<f32>>;        // per step: (step_size, bias2_root, −, −)
@group(0) @binding(10) var<storage, read_write> scratch: array<vec4<f32>>;  // [E × MEMBER_SCRATCH]
@group(0) @binding(11) var<storage, read_write> loss_rows: array<f32>;      // [E × BATCH]
@group(0) @binding(12) var<storage, read_write> sums: array<vec4<f32>>;     // [E]: loss, compensation, |Q|, compensation

// Per thread: (loss, |Q|, ‖grad‖², −) partials, added by a fixed tree.
var<workgroup> partial: array<vec4<f32>, WORKGROUP_SIZE>;

// Row b of step s in the minibatch buffers.
fn batch_row(s: u32, b: u32) -> u32 {
  return select(b, s * BATCH + b, fit.per_step_rows != 0u);
}

// Each thread computes a tile of ROW_TILE rows × COL_TILE vec4s of outputs (forward, input
// gradients) or of stored weight rows × outputs (weight gradients), so that every value it loads
// serves several multiply-adds: on a CPU adapter each load is a loop over the SIMD lanes, and loads,
// not arithmetic, bound these loops. Indices past an edge are clamped on load and never stored. A
// tile changes which thread computes an element, never the order of its sums.
const ROW_TILE: u32 = 8u;
const COL_TILE: u32 = 2u;
const ROW_TILES: u32 = (BATCH + ROW_TILE - 1u) / ROW_TILE;

fn col_tiles(out4: u32) -> u32 {
  return (out4 + COL_TILE - 1u) / COL_TILE;
}

// out = act(W x + bias) for rows b0 … and output vec4s c0 … of layer l; each output sums its
// inputs in order from the bias.
fn forward_tile(base: u32, p: u32, l: u32, s: u32, b0: u32, c0: u32) {
  let out4 = LAYER_OUT4[l];
  let rows = LAYER_ROWS[l];
  let w = p + LAYER_WEIGHTS[l];
  var col: array<u32, COL_TILE>;
  var acc: array<array<vec4<f32>, COL_TILE>, ROW_TILE>;
  for (var c = 0u; c < COL_TILE; c++) {
    col[c] = min(c0 + c, out4 - 1u);
    let bias = params[p + LAYER_BIAS[l] + col[c]];
    for (var j = 0u; j < ROW_TILE; j++) {
      acc[j][c] = bias;
    }
  }
  var row: array<u32, ROW_TILE>;
  if (l == 0u) {
    for (var j = 0u; j < ROW_TILE; j++) {
      row[j] = batch_row(s, min(b0 + j, BATCH - 1u)) * INPUTS;
    }
    for (var i = 0u; i < INPUTS; i++) {
      var wi: array<vec4<f32>, COL_TILE>;
      for (var c = 0u; c < COL_TILE; c++) {
        wi[c] = params[w + i * out4 + col[c]];
      }
      for (var j = 0u; j < ROW_TILE; j++) {
        let x = states[row[j] + i];
        for (var c = 0u; c < COL_TILE; c++) {
          acc[j][c] += x * wi[c];
        }
      }
    }
  } else {
    let in4 = rows / 4u;
    for (var j = 0u; j < ROW_TILE; j++) {
      row[j] = base + LAYER_ACTIVATIONS[l - 1u] + min(b0 + j, BATCH - 1u) * in4;
    }
    for (var i4 = 0u; i4 < in4; i4++) {
      var wi: array<array<vec4<f32>, COL_TILE>, 4>;
      for (var c = 0u; c < COL_TILE; c++) {
        let at = w + 4u * i4 * out4 + col[c];
        wi[0][c] = params[at];
        wi[1][c] = params[at + out4];
        wi[2][c] = params[at + 2u * out4];
        wi[3][c] = params[at + 3u * out4];
      }
      for (var j = 0u; j < ROW_TILE; j++) {
        let x = scratch[row[j] + i4];
        for (var c = 0u; c < COL_TILE; c++) {
          acc[j][c] += x.x * wi[0][c];
          acc[j][c] += x.y * wi[1][c];
          acc[j][c] += x.z * wi[2][c];
          acc[j][c] += x.w * wi[3][c];
        }
      }
    }
  }
  for (var j = 0u; j < ROW_TILE; j++) {
    for (var c = 0u; c < COL_TILE; c++) {
      if (b0 + j < BATCH && c0 + c < out4) {
        var value = acc[j][c];
        if (l < HEAD) {
          value = max(value, vec4<f32>(0.0));
        }
        scratch[base + LAYER_ACTIVATIONS[l] + (b0 + j) * out4 + c0 + c] = value;
      }
    }
  }
}

// The gradient of layer l's weights in stored rows r0 … r0 + ROW_TILE − 1 and output vec4s c0 …,
// from dy at `dy`: each sums over the batch in order from 0.
fn weight_grad_tile(base: u32, p: u32, l: u32, s: u32, dy: u32, r0: u32, c0: u32) {
  let out4 = LAYER_OUT4[l];
  let rows = LAYER_ROWS[l];
  var col: array<u32, COL_TILE>;
  for (var c = 0u; c < COL_TILE; c++) {
    col[c] = base + dy + min(c0 + c, out4 - 1u);
  }
  var acc: array<array<vec4<f32>, COL_TILE>, ROW_TILE>;
  for (var b = 0u; b < BATCH; b++) {
    var g: array<vec4<f32>, COL_TILE>;
    for (var c = 0u; c < COL_TILE; c++) {
      g[c] = scratch[col[c] + b * out4];
    }
    var x: array<f32, ROW_TILE>;
    if (l == 0u) {
      let state = batch_row(s, b) * INPUTS;
      for (var j = 0u; j < ROW_TILE; j++) {
        x[j] = states[state + min(r0 + j, INPUTS - 1u)];
      }
    } else {
      // ROW_TILE is a multiple of 4 and rows of a hidden layer too: whole vec4s.
      let xs = base + LAYER_ACTIVATIONS[l - 1u] + b * (rows / 4u) + r0 / 4u;
      for (var j4 = 0u; j4 < ROW_TILE / 4u; j4++) {
        let xv = scratch[xs + min(j4, rows / 4u - 1u - r0 / 4u)];
        x[4u * j4] = xv.x;
        x[4u * j4 + 1u] = xv.y;
        x[4u * j4 + 2u] = xv.z;
        x[4u * j4 + 3u] = xv.w;
      }
    }
    for (var j = 0u; j < ROW_TILE; j++) {
      for (var c = 0u; c < COL_TILE; c++) {
        acc[j][c] += x[j] * g[c];
      }
    }
  }
  for (var j = 0u; j < ROW_TILE; j++) {
    for (var c = 0u; c < COL_TILE; c++) {
      if (r0 + j < rows && c0 + c < out4) {
        grads[p + LAYER_WEIGHTS[l] + (r0 + j) * out4 + c0 + c] = acc[j][c];
      }
    }
  }
}

// The gradient of layer l's bias, output vec4 o4: dy summed over the batch in order from 0.
fn bias_grad(base: u32, p: u32, l: u32, dy: u32, o4: u32) {
  let out4 = LAYER_OUT4[l];
  var acc = vec4<f32>(0.0);
  for (var b = 0u; b < BATCH; b++) {
    acc += scratch[base + dy + b * out4 + o4];
  }
  grads[p + LAYER_BIAS[l] + o4] = acc;
}

// dx = relu'(x) · Wᵀ dy for rows b0 … and input vec4s c0 … of layer l > 0; each sums over the
// outputs in order, a vec4 of them at a time.
fn input_grad_tile(base: u32, p: u32, l: u32, dy: u32, dx: u32, b0: u32, c0: u32) {
  let out4 = LAYER_OUT4[l];
  let in4 = LAYER_ROWS[l] / 4u;
  let w = p + LAYER_WEIGHTS[l];
  var col: array<u32, COL_TILE>;
  for (var c = 0u; c < COL_TILE; c++) {
    col[c] = w + 4u * min(c0 + c, in4 - 1u) * out4;
  }
  var row: array<u32, ROW_TILE>;
  for (var j = 0u; j < ROW_TILE; j++) {
    row[j] = base + dy + min(b0 + j, BATCH - 1u) * out4;
  }
  var acc: array<array<vec4<f32>, COL_TILE>, ROW_TILE>;
  for (var o4 = 0u; o4 < out4; o4++) {
    var wi: array<array<vec4<f32>, COL_TILE>, 4>;
    for (var c = 0u; c < COL_TILE; c++) {
      wi[0][c] = params[col[c] + o4];
      wi[1][c] = params[col[c] + out4 + o4];
      wi[2][c] = params[col[c] + 2u * out4 + o4];
      wi[3][c] = params[col[c] + 3u * out4 + o4];
    }
    for (var j = 0u; j < ROW_TILE; j++) {
      let g = scratch[row[j] + o4];
      for (var c = 0u; c < COL_TILE; c++) {
        acc[j][c].x += dot(g, wi[0][c]);
        acc[j][c].y += dot(g, wi[1][c]);
        acc[j][c].z += dot(g, wi[2][c]);
        acc[j][c].w += dot(g, wi[3][c]);
      }
    }
  }
  for (var j = 0u; j < ROW_TILE; j++) {
    for (var c = 0u; c < COL_TILE; c++) {
      let b = b0 + j;
      let i4 = c0 + c;
      if (b < BATCH && i4 < in4) {
        let x = scratch[base + LAYER_ACTIVATIONS[l - 1u] + b * in4 + i4];
        scratch[base + dx + b * in4 + i4] = select(vec4<f32>(0.0), acc[j][c], x > vec4<f32>(0.0));
      }
    }
  }
}

fn kahan_add(sum: f32, compensation: f32, value: f32) -> vec2<f32> {
  let y = value - compensation;
  let t = sum + y;
  return vec2<f32>(t, (t - sum) - y);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let e = wg.x;
  let p = e * SNAPSHOT_VEC4S;
  let base = e * MEMBER_SCRATCH;
  for (var s = 0u; s < fit.steps; s++) {
    // Forward, layer by layer.
    for (var l = 0u; l < LAYERS; l++) {
      let tiles = col_tiles(LAYER_OUT4[l]);
      for (var k = t; k < ROW_TILES * tiles; k += WORKGROUP_SIZE) {
        forward_tile(base, p, l, s, (k / tiles) * ROW_TILE, (k % tiles) * COL_TILE);
      }
      storageBarrier();
    }

    // Loss on the taken actions, its gradient with respect to the head's outputs, and this
    // thread's partial sums of the loss and |Q| over rows t, t + 64, … (the statistics').
    let head_out4 = LAYER_OUT4[HEAD];
    var stats = vec2<f32>(0.0);
    for (var b = t; b < BATCH; b += WORKGROUP_SIZE) {
      let row = batch_row(s, b);
      let a = actions[row];
      let q = scratch[base + LAYER_ACTIVATIONS[HEAD] + b * head_out4 + a / 4u][a % 4u];
      let loss = td_loss(q - targets[row], fit.grad_scale, fit.huber != 0u, fit.huber_delta);
      let value = loss.x;
      let slope = loss.y;
      for (var o4 = 0u; o4 < head_out4; o4++) {
        var g = vec4<f32>(0.0);
        if (o4 == a / 4u) {
          g[a % 4u] = slope;
        }
        scratch[base + DELTAS[0] + b * head_out4 + o4] = g;
      }
      loss_rows[e * BATCH + b] = value;
      stats += vec2<f32>(value, abs(q));
    }
    storageBarrier();

    // Backward from the head: dy of layer l is in one delta region, its dx goes to the other.
    var dy = DELTAS[0];
    var dx = DELTAS[1];
    for (var depth = 0u; depth < LAYERS; depth++) {
      let l = HEAD - depth;
      let out4 = LAYER_OUT4[l];
      let tiles = col_tiles(out4);
      let row_tiles = (LAYER_ROWS[l] + ROW_TILE - 1u) / ROW_TILE;
      // Weight tiles, then the bias vec4s: one list of work items.
      for (var k = t; k < row_tiles * tiles + out4; k += WORKGROUP_SIZE) {
        if (k < row_tiles * tiles) {
          weight_grad_tile(base, p, l, s, dy, (k / tiles) * ROW_TILE, (k % tiles) * COL_TILE);
        } else {
          bias_grad(base, p, l, dy, k - row_tiles * tiles);
        }
      }
      if (l > 0u) {
        let in_tiles = col_tiles(LAYER_ROWS[l] / 4u);
        for (var k = t; k < ROW_TILES * in_tiles; k += WORKGROUP_SIZE) {
          input_grad_tile(base, p, l, dy, dx, (k / in_tiles) * ROW_TILE, (k % in_tiles) * COL_TILE);
        }
      }
      storageBarrier();
      let swap = dy;
      dy = dx;
      dx = swap;
    }

    // The gradient's norm and the step's statistics: strided partials, then one fixed tree.
    let clip = fit.clip != 0u;
    let statistics = fit.statistics != 0u;
    let want_norm = clip || s == fit.norm_at;
    var norm = 0.0;
    if (statistics || want_norm) {
      var squares = 0.0;
      if (want_norm) {
        for (var k = t; k < SNAPSHOT_VEC4S; k += WORKGROUP_SIZE) {
          let g = grads[p + k];
          squares += dot(g, g);
        }
      }
      partial[t] = vec4<f32>(stats, squares, 0.0);
      workgroupBarrier();
      for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
        if (t < width) {
          partial[t] += partial[t + width];
        }
        workgroupBarrier();
      }
      let total = partial[0];
      norm = sqrt(total.z);
      if (t == 0u) {
        if (want_norm) {
          norms[e] = norm;
        }
        if (statistics) {
          let means = total.xy / f32(BATCH);
          let old = sums[e];
          sums[e] = vec4<f32>(kahan_add(old.x, old.y, means.x), kahan_add(old.z, old.w, means.y));
        }
      }
    }

    // Adam (shaders/adam_update.wgsl, as train_adam.wgsl).
    let bias = schedule[fit.schedule_offset + s];
    let constants = AdamConstants(bias.x, bias.y, fit.beta1, fit.beta2, fit.one_minus_beta1, fit.one_minus_beta2, fit.eps,
                                  fit.weight_decay);
    for (var k = t; k < SNAPSHOT_VEC4S; k += WORKGROUP_SIZE) {
      var g = grads[p + k];
      if (clip) {
        g = g * adam_clip(fit.max_norm, norm);
      }
      let updated = adam_update(g, AdamState(params[p + k], m[p + k], v[p + k]), constants);
      m[p + k] = updated.m;
      v[p + k] = updated.v;
      params[p + k] = updated.theta;
    }
    storageBarrier();
  }
}
