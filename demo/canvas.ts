/** Canvas helpers shared by the demo's views: crisp drawing at any devicePixelRatio, theme colours. */

/**
 * Sizes `canvas` to its CSS width × `height` CSS pixels at the device's pixel ratio and returns a
 * context that draws in CSS pixels (so text and lines stay sharp on high-DPI screens), or null
 * while the canvas has no width (hidden; it is drawn again when it gets one).
 */
export function prepareCanvas(
  canvas: HTMLCanvasElement,
  height: number,
): { ctx: CanvasRenderingContext2D; width: number; height: number } | null {
  const width = Math.floor(canvas.getBoundingClientRect().width);
  if (width <= 0) return null;
  const ratio = window.devicePixelRatio || 1;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

/** The page's theme colours (CSS variables of style.css), read at draw time so dark mode works. */
export function themeColour(name: "--fg" | "--muted" | "--accent" | "--accent-2" | "--line" | "--bg" | "--good" | "--bad"): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** The smallest step of 1, 2 or 5 × 10^k that is at least `raw`: round numbers for axes. */
export function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw) ?? 10 * power;
}

/** Round numbers for an axis from lo to hi (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep((hi - lo) / count);
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

/** A number short enough for an axis label: 12000 → "12k". */
export function shortNumber(value: number): string {
  const size = Math.abs(value);
  if (size >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (size >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return `${+value.toFixed(2)}`;
}
