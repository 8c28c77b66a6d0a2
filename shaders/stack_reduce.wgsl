// Adds the parts written by stack_forward.wgsl, in part order, so the logits do not depend on
// how the GPU schedules workgroups: logits[i] = Σ_p parts[p · elements + i].

struct Params {
  elements: u32,  // batch × actions
  parts: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> parts: array<f32>;
@group(0) @binding(2) var<storage, read_write> logits: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = id.x + id.y * groups.x * 256u;
  if (i >= params.elements) { return; }
  var total = parts[i];
  for (var p = 1u; p < params.parts; p++) { total += parts[p * params.elements + i]; }
  logits[i] = total;
}
