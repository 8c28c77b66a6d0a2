// Run by `npm test` before the tests (after scripts/ensure-webgpu.ts): the tools the cross-checks
// compare staq with. A Python with PyTorch (and numpy, which Debian's python3-torch depends on),
// installed as root on Debian when missing; elsewhere it says what to install, and the tests that
// need it skip (or fail, under CI). See scripts/python-torch.ts.
import { ensurePythonTorch } from "./python-torch.ts";

try {
  const torch = ensurePythonTorch();
  if ("python" in torch) {
    console.error(`PyTorch cross-checks: ${torch.python} (torch ${torch.torch})`);
  } else {
    console.error(torch.missing);
    // Under CI a missing tool is an error here already, before the long test run.
    if (process.env.CI) process.exit(1);
  }
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
