// Random conv layers for property tests: small images, every option (kernel, stride, padding)
// varied, filter counts off multiples of 4, so padded filters and padding pixels are exercised.
import fc from "fast-check";
import type { ConvSpec } from "../../src/stack/conv.ts";

export interface ConvCase {
  conv: ConvSpec;
  /** The state size the conv reads: height · width · channels. */
  inputs: number;
}

export function convArbitrary(limits: { maxSide?: number; maxChannels?: number; maxFilters?: number } = {}): fc.Arbitrary<ConvCase> {
  return fc
    .record({
      height: fc.integer({ min: 2, max: limits.maxSide ?? 6 }),
      width: fc.integer({ min: 2, max: limits.maxSide ?? 6 }),
      channels: fc.integer({ min: 1, max: limits.maxChannels ?? 3 }),
      filters: fc.integer({ min: 1, max: limits.maxFilters ?? 6 }),
      kernelHeight: fc.integer({ min: 1, max: 3 }),
      kernelWidth: fc.integer({ min: 1, max: 3 }),
      stride: fc.integer({ min: 1, max: 2 }),
      padding: fc.integer({ min: 0, max: 1 }),
    })
    .map(({ height, width, channels, filters, kernelHeight, kernelWidth, stride, padding }) => {
      const kh = Math.min(kernelHeight, height);
      const kw = Math.min(kernelWidth, width);
      const conv: ConvSpec = {
        inputShape: [height, width, channels],
        filters,
        kernel: [kh, kw],
        stride,
        padding: Math.min(padding, Math.min(kh, kw) - 1),
      };
      return { conv, inputs: height * width * channels };
    });
}
