// lavapipe's limits as staq requests them, for tests that plan or check sizes without a device.
import type { GpuLimits } from "../../src/gpu/gpu.ts";

export const LAVAPIPE_LIMITS: Readonly<GpuLimits> = {
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxBufferSize: 2 ** 32 - 1,
  maxComputeWorkgroupStorageSize: 32 * 1024,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 16,
  minStorageBufferOffsetAlignment: 256,
};
