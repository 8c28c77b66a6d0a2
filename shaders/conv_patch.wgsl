// The patch a conv layer reads for one output position (a library: `// @include conv_patch`;
// src/stack/conv.ts's patchSource is the float64 twin). The including shader passes the layer's
// geometry, usually a constant built from its injected CONV_SHAPE (convShaderConstants in
// src/stack/conv.ts gives the fields in order):
//   const CONV_GEOMETRY = ConvGeometry(CONV_SHAPE[0], CONV_SHAPE[1], …, CONV_SHAPE[7]);
// and loops over the patch in PyTorch's weight order, k = (c·kh + i)·kw + j:
//   let origin = conv_origin(CONV_GEOMETRY, p);
//   for c, for i, for j: let source = conv_pixel(CONV_GEOMETRY, origin, i, j, c);  // −1 in the padding

struct ConvGeometry {
  height: u32,     // the state as an image [height][width][channels], row-major
  width: u32,
  channels: u32,
  kh: u32,         // the kernel
  kw: u32,
  stride: u32,
  pad: u32,        // zero padding on every side
  out_width: u32,  // output positions per row (p = y'·out_width + x')
}

// The (y, x) of the patch's top-left pixel, negative inside the padding.
fn conv_origin(g: ConvGeometry, p: u32) -> vec2<i32> {
  return vec2<i32>(i32((p / g.out_width) * g.stride), i32((p % g.out_width) * g.stride)) - vec2<i32>(i32(g.pad));
}

// The state index of channel c of the patch's pixel (i, j), or −1 where it lies in the padding.
fn conv_pixel(g: ConvGeometry, origin: vec2<i32>, i: u32, j: u32, c: u32) -> i32 {
  let y = origin.x + i32(i);
  let x = origin.y + i32(j);
  if (y < 0 || y >= i32(g.height) || x < 0 || x >= i32(g.width)) {
    return -1;
  }
  return (y * i32(g.width) + x) * i32(g.channels) + i32(c);
}
