/**
 * `staq gpu [--install-driver]`: prints what WebGPU adapter staq gets here, as JSON; with
 * --install-driver it first installs Mesa's software Vulkan driver when there is no adapter and
 * the machine allows it (root on Debian), as `npm test` does.
 */
import type { Gpu } from "../gpu/gpu.ts";
import { createGpu } from "../node/create-gpu.ts";
import { ensureAdapter } from "../node/ensure-adapter.ts";
import { parseCommandArgs, type Command } from "./command.ts";

const HELP = `Usage: staq gpu [--install-driver]

Creates a WebGPU device the way staq does and prints the adapter, its features and the limits
staq plans its work with, as JSON.

Options:
  --install-driver   when there is no adapter, install Mesa's software Vulkan driver (lavapipe)
                     first; needs root on Debian (elsewhere it says what to install)
  -h, --help         show this help
`;

export const gpuCommand: Command = {
  name: "gpu",
  summary: "print the WebGPU adapter staq uses (optionally installing a software driver)",
  help: HELP,
  async run(args, io) {
    const values = parseCommandArgs(args, { "install-driver": { type: "boolean" }, help: { type: "boolean", short: "h" } }, gpuCommand);
    if (values.help) {
      io.stdout.write(HELP);
      return;
    }
    // Progress goes to stderr, so stdout stays one JSON document.
    if (values["install-driver"]) ensureAdapter((line) => io.stderr.write(`${line}\n`));
    let gpu: Gpu | undefined;
    try {
      gpu = await createGpu();
      io.stdout.write(`${JSON.stringify(gpu.info, null, 2)}\n`);
    } finally {
      gpu?.destroy();
    }
  },
};
