// Run before the tests and benchmarks: find a WebGPU adapter, installing a software driver when
// the machine has none and this process may (root on Debian); otherwise say what to install.
import { describeAdapter, ensureAdapter } from "../src/node/ensure-adapter.ts";

try {
  const adapter = ensureAdapter();
  console.error(`WebGPU adapter: ${describeAdapter(adapter)}`);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
