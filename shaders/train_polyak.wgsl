// Refreshes the target networks from the online ones, every member and parameter at once:
//   HARD:   target = online                         (the periodic hard copy)
//   else:   target = keep · target + RHO · online   (Polyak averaging; keep = f32(1 − ρ) from the host)
// polyakUpdate in src/train/reference.ts is the float64 twin.

const COUNT: u32 = 1u;      // @inject vec4s: E · snapshot vec4s
const HARD: bool = true;    // @inject
const KEEP: f32 = 0.0f;     // @inject
const RHO: f32 = 1.0f;      // @inject

const WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<storage, read> online: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> target_params: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // x folds into y past the device's limit on workgroups per dimension (Kernel.grid).
  let k = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (k >= COUNT) {
    return;
  }
  if (HARD) {
    target_params[k] = online[k];
  } else {
    target_params[k] = KEEP * target_params[k] + RHO * online[k];
  }
}
