// One dense layer of one snapshot, one thread per (state, output): the naive way to evaluate a
// stack, with one dispatch per snapshot per layer. Benchmarks use it as the baseline that
// stack_forward.wgsl is compared with; it reads the same packed snapshots (src/stack/layout.ts).
//
// mode 0: out = relu(W x + b)            (hidden layer)
// mode 1: out += coefficient · (W x + b)  (head, accumulated into the logits)

struct Params {
  batch: u32,
  inputs: u32,          // values per input row that the layer reads
  input_stride: u32,    // floats between input rows
  outputs: u32,         // outputs written per row
  output_stride: u32,   // floats between output rows
  out4: u32,            // padded outputs / 4: the stored weight's row length in vec4s
  weight_offset: u32,   // vec4s, from the start of the weights buffer
  bias_offset: u32,     // vec4s
  mode: u32,
  coefficient: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let o = id.x;
  let b = id.y;
  if (o >= params.outputs || b >= params.batch) { return; }
  let column = o / 4u;
  let lane = o % 4u;
  var sum = weights[params.bias_offset + column][lane];
  for (var k = 0u; k < params.inputs; k++) {
    sum = fma(input[b * params.input_stride + k], weights[params.weight_offset + k * params.out4 + column][lane], sum);
  }
  let at = b * params.output_stride + o;
  if (params.mode == 0u) {
    output[at] = max(sum, 0.0);
  } else {
    output[at] = fma(params.coefficient, sum, output[at]);
  }
}
