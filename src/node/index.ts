/**
 * staq for Node: everything in the portable core, with `createGpu` backed by Dawn's Node bindings
 * (npm `webgpu`) and the Node-only helpers (driver set-up, files on disk).
 */
export * from "../index.ts";
export { createGpu, dawnFlags } from "./create-gpu.ts";
export { ensureAdapter, probeAdapter, describeAdapter } from "./ensure-adapter.ts";
export { saveStack, loadStack } from "./stack-files.ts";
export { renderLineChartSvg, type LineSeries, type LineChartOptions } from "../plot/line-chart.ts";
