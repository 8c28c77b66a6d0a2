/**
 * `staq logits --stack FILE.safetensors --states FILE.json [--fast]`: evaluates a saved stack on
 * the GPU and prints {"logits": [[...], ...]}, one row per state. With it anyone can check staq
 * against another framework reading the same file (docs/formats.md, “Reproducing the logits in PyTorch”).
 */
import { StaqError, StaqFormatError, StaqInputError } from "../errors.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { parseJsonObject } from "../io/json.ts";
import { createGpu } from "../node/create-gpu.ts";
import { loadStack } from "../node/stack-files.ts";
import type { MlpSpec } from "../stack/mlp.ts";
import type { Stack } from "../stack/stack.ts";
import { stackLogits } from "../stack/stack-logits.ts";
import { UsageError, parseCommandArgs, readInputFile, type Command } from "./command.ts";

const HELP = `Usage: staq logits --stack FILE.safetensors --states FILE.json [--fast]

Evaluates a stack saved as safetensors (docs/formats.md, “The stack file”) on the GPU and prints the logits
  xi(s) = correction * mean_e sum_i c[e,i] * MLP_{e,i}(s)
of every state as JSON: {"logits": [[...], ...]}, one row of actions per state. Each number is
the shortest decimal that reads back as the same float32.

The networks may start with a conv layer (stack.layers.0.weight of shape [E, N, out, in, kh, kw],
PyTorch's Conv2d weight, stride 1, no padding; __metadata__ "input_shape" = "H,W,C"): each state
is then the image flattened [H][W][C], pixel (y, x, c) at index (y*W + x)*C + c.

Options:
  --stack FILE     the stack file (safetensors, format "staq-stack/1")
  --states FILE    JSON {"states": [[...], ...]}: one array of the networks' inputs per state
  --fast           turn off Dawn's bounds checks (faster; staq's kernels stay in bounds)
  -h, --help       show this help
`;

/** The shortest decimal text that parses back to the float32 `value` (which must be finite). */
export function shortestFloat32(value: number): string {
  if (Object.is(value, -0)) return "-0";
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return String(candidate);
  }
  // Nine significant digits always identify a float32.
  return String(Number(value.toPrecision(9)));
}

/**
 * Parses `{"states": number[][]}` into a [batch, width] Float32Array. `source` names the file in
 * errors. Any other field, or "states" twice, is refused (parseJsonObject): either would otherwise
 * be ignored without a word. NaN and ±Infinity, which JSON lacks but Python writes bare, are
 * refused naming the entry.
 */
export function parseStatesJson(text: string, source: string): { states: Float32Array; batch: number; width: number } {
  const example = 'expected {"states": [[s0, s1, ...], ...]}';
  const record = parseJsonObject(text, source, { fields: ["states"], expected: example });
  const rows = record.states;
  if (!Array.isArray(rows)) {
    throw new StaqFormatError(`${source} has no "states" array; ${example}`);
  }
  const width = Array.isArray(rows[0]) ? rows[0].length : 0;
  const states = new Float32Array(rows.length * width);
  rows.forEach((row: unknown, b) => {
    if (!Array.isArray(row))
      throw new StaqFormatError(`${source}: states[${b}] is ${JSON.stringify(row)}, not an array of numbers; ${example}`);
    if (row.length !== width)
      throw new StaqFormatError(
        `${source}: states[${b}] has ${row.length} values but states[0] has ${width}; every state needs the same number`,
      );
    row.forEach((value: unknown, i) => {
      if (typeof value !== "number")
        throw new StaqFormatError(`${source}: states[${b}][${i}] is ${JSON.stringify(value)}; expected a number`);
      if (!Number.isFinite(value))
        throw new StaqInputError(`${source}: states[${b}][${i}] is ${value}; states must be finite numbers (JSON has no NaN or Infinity)`);
      const single = Math.fround(value);
      if (!Number.isFinite(single)) throw new StaqInputError(`${source}: states[${b}][${i}] = ${value} is beyond the float32 range`);
      states[b * width + i] = single;
    });
  });
  if (rows.length > 0 && width === 0) throw new StaqFormatError(`${source}: states[0] is empty; a state needs the MLP's inputs`);
  return { states, batch: rows.length, width };
}

/** {"logits": [[...], ...]} with float32-exact numbers. */
export function formatLogits(logits: Float32Array, batch: number, actions: number): string {
  const rows: string[] = [];
  for (let b = 0; b < batch; b++) {
    const row: string[] = [];
    for (let a = 0; a < actions; a++) {
      const value = logits[b * actions + a];
      if (!Number.isFinite(value))
        throw new StaqError(`logit [${b}][${a}] is ${value}: the stack's output does not fit float32 for this state`);
      row.push(shortestFloat32(value));
    }
    rows.push(`[${row.join(", ")}]`);
  }
  return `{"logits": [${rows.join(", ")}]}\n`;
}

/** "400 inputs (a 10×10×4 image, flattened [H][W][C] row-major)" for a conv network, "4 inputs" otherwise. */
function describeInputs(spec: MlpSpec): string {
  if (!spec.conv) return `${spec.inputs} inputs`;
  const [height, width, channels] = spec.conv.inputShape;
  return `${spec.inputs} inputs (a ${height}×${width}×${channels} image, flattened [H][W][C] row-major)`;
}

async function readStates(path: string) {
  return parseStatesJson(await readInputFile(path, "states"), path);
}

export const logitsCommand: Command = {
  name: "logits",
  summary: "print the logits of a saved stack for states from a JSON file",
  help: HELP,
  async run(args, io) {
    const values = parseCommandArgs(
      args,
      { stack: { type: "string" }, states: { type: "string" }, fast: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      logitsCommand,
    );
    if (values.help) {
      io.stdout.write(HELP);
      return;
    }
    if (!values.stack) throw new UsageError("logits needs --stack FILE.safetensors", logitsCommand);
    if (!values.states) throw new UsageError("logits needs --states FILE.json", logitsCommand);

    // The states first: a malformed file is reported without waiting for a GPU.
    const { states, batch, width } = await readStates(values.states);
    let gpu: Gpu | undefined;
    let stack: Stack | undefined;
    try {
      gpu = await createGpu({ fast: Boolean(values.fast) });
      stack = await loadStack(gpu, values.stack).catch((error: unknown) => {
        // A size the file asks for that this device or machine cannot hold (its memory M) is an
        // input error like a malformed file: name the file (format errors already do).
        if (error instanceof StaqInputError && !error.message.includes(values.stack!)) {
          throw new StaqInputError(`${values.stack}: ${error.message}`, { cause: error });
        }
        throw error;
      });
      const { inputs, outputs } = stack.spec;
      if (batch > 0 && width !== inputs) {
        throw new StaqInputError(
          `${values.states}: each state has ${width} values, but the stack's MLP in ${values.stack} takes ${describeInputs(stack.spec)}`,
        );
      }
      const logits = batch > 0 ? await stackLogits(stack, states) : new Float32Array(0);
      io.stdout.write(formatLogits(logits, batch, outputs));
    } finally {
      // Without a device left alive, Dawn lets the process exit on its own.
      stack?.destroy();
      gpu?.destroy();
    }
  },
};
