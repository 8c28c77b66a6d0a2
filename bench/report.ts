/** Formatting for benchmark output: milliseconds, markdown tables, file names per adapter. */

/** Three significant digits, at least two decimals below 10 ms. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 0.1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" → "llvmpipe"; "NVIDIA H100 80GB HBM3" → "nvidia-h100-80gb-hbm3". */
export function adapterSlug(adapter: string): string {
  const name = adapter.split(/[:(]/)[0].trim() || "adapter";
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}
