// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Pictures of MinAtar frames: text for the terminal, SVG for the docs.
 *
 * Both follow upstream MinAtar's `display_state`: each cell shows one channel, the highest-indexed
 * one set there (upstream draws max over set channels of index + 1, and 0 for an empty cell), in
 * the colours of seaborn's `color_palette("cubehelix", C)` on black. Taking the highest index is
 * what keeps markers visible: a later channel can mark something on top of an earlier one (space
 * invaders' alien_left/alien_right lie on every alien cell).
 *
 * A frame is the 10 × 10 × C observation, channels last (index (row·10 + col)·C + channel), 0/1.
 */
import { StaqInputError } from "../../errors.ts";

const SIZE = 10;
const CELLS = SIZE * SIZE;

// ---------------------------------------------------------------------------------------------
// Colours

/** Empty cells, as upstream (it puts black in front of the channel colours). */
export const MINATAR_EMPTY_COLOR = "#000000";

/**
 * Green (2011) cubehelix at fraction x of the way from black to white, with matplotlib's
 * "cubehelix" colormap parameters (gamma 1, start 0.5, rotations −1.5, hue 1): grey level x plus
 * an offset that turns around the grey diagonal of the RGB cube, clipped to the cube.
 */
function cubehelix(x: number): [number, number, number] {
  const gamma = 1;
  const start = 0.5;
  const rotations = -1.5;
  const hue = 1;
  const level = x ** gamma;
  const amplitude = (hue * level * (1 - level)) / 2;
  const angle = 2 * Math.PI * (start / 3 + rotations * x);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const clip = (v: number) => Math.min(1, Math.max(0, v));
  return [
    clip(level + amplitude * (-0.14861 * cos + 1.78277 * sin)),
    clip(level + amplitude * (-0.29227 * cos - 0.90649 * sin)),
    clip(level + amplitude * (1.97294 * cos)),
  ];
}

/** Python's round(): halves go to the even neighbour (matplotlib's to_hex rounds this way). */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function hex(rgb: readonly number[]): string {
  return (
    "#" +
    rgb
      .map((v) =>
        roundHalfEven(v * 255)
          .toString(16)
          .padStart(2, "0"),
      )
      .join("")
  );
}

/**
 * The colour of each of `channelCount` channels, as "#rrggbb": seaborn's
 * `color_palette("cubehelix", n)`, which reads matplotlib's cubehelix colormap (a 256-entry
 * table of the curve at i/255) at the n interior points of linspace(0, 1, n + 2). Leaving out
 * both ends keeps every channel off black (the empty colour) and off white.
 */
export function minatarPalette(channelCount: number): string[] {
  if (!(Number.isInteger(channelCount) && channelCount >= 1)) {
    throw new StaqInputError(`minatarPalette: channelCount must be an integer >= 1; got ${channelCount}`);
  }
  const entries = 256;
  // numpy's linspace computes k·step, not k/(n+1); the two can differ in the last bit.
  const step = 1 / (channelCount + 1);
  return Array.from({ length: channelCount }, (_, k) => {
    const x = (k + 1) * step;
    // matplotlib: index = int(x·N), with x = 1 mapped to the last entry.
    const index = Math.min(entries - 1, Math.floor(x * entries));
    return hex(cubehelix(index / (entries - 1)));
  });
}

function rgbOf(color: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16)) as [number, number, number];
}

// ---------------------------------------------------------------------------------------------
// Glyphs

/**
 * Two-character pictures for upstream's channel names (two characters, so a cell is about as wide
 * as it is tall). Within each game they are distinct; the legend says which is which.
 */
const KNOWN_GLYPHS: Readonly<Record<string, string>> = {
  // breakout
  paddle: "==",
  ball: "()",
  trail: "..",
  brick: "##",
  // asterix
  player: "@@",
  enemy: "XX",
  gold: "$$",
  // freeway
  chicken: "@@",
  car: "[]",
  speed1: "s1",
  speed2: "s2",
  speed3: "s3",
  speed4: "s4",
  speed5: "s5",
  // seaquest
  sub_front: "<>",
  sub_back: "[]",
  friendly_bullet: "**",
  enemy_bullet: "!!",
  enemy_fish: "><",
  enemy_sub: "XX",
  oxygen_guage: "oo",
  diver_guage: "dd",
  diver: "DD",
  // space invaders
  cannon: "/\\",
  alien: "MM",
  alien_left: "<M",
  alien_right: "M>",
};

/** Fallbacks for other names: its letters and digits doubled, then upper case, then two base-36 digits. */
function* glyphCandidates(name: string): Generator<string> {
  const known = KNOWN_GLYPHS[name];
  if (known !== undefined) yield known;
  const chars = [...name.toLowerCase()].filter((c) => /[a-z0-9]/.test(c));
  for (const c of chars) yield c + c;
  for (const c of chars) yield c.toUpperCase() + c.toUpperCase();
  for (let i = 0; i < 36 * 36; i++) yield i.toString(36).padStart(2, "0");
}

/**
 * One distinct two-character glyph per channel, in channel order: the picture above for
 * upstream's names, else the first free of the name's letters doubled ("goal" → "gg").
 */
export function minatarGlyphs(channels: readonly string[]): string[] {
  checkChannels("minatarGlyphs", channels);
  const used = new Set<string>();
  return channels.map((name) => {
    for (const glyph of glyphCandidates(name)) {
      if (!used.has(glyph)) {
        used.add(glyph);
        return glyph;
      }
    }
    // Unreachable: checkChannels caps C below the 36² two-digit codes.
    throw new StaqInputError(`minatarGlyphs: no free glyph for channel ${JSON.stringify(name)}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Validation and the cell rule

const MAX_CHANNELS = 1000;

function checkChannels(who: string, channels: readonly string[]): void {
  if (!Array.isArray(channels) || channels.length === 0) {
    throw new StaqInputError(
      `${who}: channels must be a non-empty array of channel names (the game's \`channels\`); got ${Array.isArray(channels) ? "[]" : String(channels)}`,
    );
  }
  if (channels.length > MAX_CHANNELS)
    throw new StaqInputError(`${who}: at most ${MAX_CHANNELS} channels can be drawn; got ${channels.length}`);
  channels.forEach((name, i) => {
    // Names are printed in the legend: control characters would garble the terminal.
    if (typeof name !== "string" || name.length === 0 || /[\u0000-\u001f\u007f]/.test(name)) {
      throw new StaqInputError(`${who}: channel ${i} must be a non-empty name without control characters; got ${JSON.stringify(name)}`);
    }
  });
}

/**
 * The channel each cell shows, row-major (index row·10 + col): the highest channel set there, or
 * −1 for an empty cell. Throws unless obs is a 10 × 10 × C frame of 0/1 values.
 */
export function minatarCellChannels(obs: ArrayLike<number>, channels: readonly string[]): Int32Array {
  return cellChannels("minatarCellChannels", obs, channels);
}

function cellChannels(who: string, obs: ArrayLike<number>, channels: readonly string[]): Int32Array {
  checkChannels(who, channels);
  const C = channels.length;
  if (obs === null || typeof obs !== "object" || typeof obs.length !== "number") {
    throw new StaqInputError(
      `${who}: obs must be a Float32Array (a 10×10×${C} frame, channels last); got ${obs === null ? "null" : typeof obs}`,
    );
  }
  if (obs.length !== CELLS * C) {
    throw new StaqInputError(
      `${who}: obs has ${obs.length} values, but a 10×10 frame with ${C} channels (${channels.join(", ")}) has ${CELLS * C}, index (row·10 + col)·${C} + channel`,
    );
  }
  const top = new Int32Array(CELLS).fill(-1);
  for (let cell = 0; cell < CELLS; cell++) {
    for (let channel = 0; channel < C; channel++) {
      const value = obs[cell * C + channel];
      if (value === 1) top[cell] = channel;
      else if (value !== 0) {
        throw new StaqInputError(
          `${who}: obs[${cell * C + channel}] (row ${Math.floor(cell / SIZE)}, col ${cell % SIZE}, channel ${channel} ${JSON.stringify(channels[channel])}) is ${value}; MinAtar frames hold only 0 and 1`,
        );
      }
    }
  }
  return top;
}

// ---------------------------------------------------------------------------------------------
// Text

export interface MinatarTextOptions {
  /** Colour the cells with ANSI 24-bit backgrounds (the SVG's palette); default false: plain ASCII. */
  color?: boolean;
}

const RESET = "\x1b[0m";
const background = (color: string) => `\x1b[48;2;${rgbOf(color).join(";")}m`;
/** Black or white text, whichever reads better on `color`. */
function foregroundOn(color: string): string {
  const [r, g, b] = rgbOf(color);
  return 0.299 * r + 0.587 * g + 0.114 * b > 128 ? "\x1b[38;2;0;0;0m" : "\x1b[38;2;255;255;255m";
}

/**
 * The frame as 10 lines of 20 characters (each cell is its channel's two-character glyph, or two
 * spaces when empty), then a legend line "glyph name" per channel. With `color`, each cell also
 * gets its channel's colour as background (black when empty) and every line ends in a reset, so
 * stripping the escape codes gives the plain text back.
 */
export function renderMinatarText(obs: ArrayLike<number>, channels: readonly string[], options: MinatarTextOptions = {}): string {
  const top = cellChannels("renderMinatarText", obs, channels);
  const glyphs = minatarGlyphs(channels);
  const color = options.color === true;
  const palette = color ? minatarPalette(channels.length) : [];
  // Escape codes only where the colour changes, so a line stays short enough to read in a log.
  let current: string | undefined;
  const paint = (channel: number, text: string) => {
    if (!color) return text;
    const fill = channel < 0 ? MINATAR_EMPTY_COLOR : palette[channel];
    const codes = fill === current ? "" : background(fill) + foregroundOn(fill);
    current = fill;
    return codes + text;
  };
  const endLine = () => {
    current = undefined;
    return color ? RESET : "";
  };
  const lines: string[] = [];
  for (let row = 0; row < SIZE; row++) {
    let line = "";
    for (let col = 0; col < SIZE; col++) {
      const channel = top[row * SIZE + col];
      line += paint(channel, channel < 0 ? "  " : glyphs[channel]);
    }
    lines.push(line + endLine());
  }
  lines.push(channels.map((name, i) => `${paint(i, glyphs[i])}${endLine()} ${name}`).join("  "));
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// SVG

export interface MinatarSvgOptions {
  /** Side of one cell in SVG units. Default 24. */
  cellSize?: number;
  /** Draw the channel legend (a colour swatch and the name per channel) under the frame. Default true. */
  legend?: boolean;
}

/** One frame of a row: its observation, its channel names, and an optional title above it. */
export interface MinatarSvgFrame {
  obs: ArrayLike<number>;
  channels: readonly string[];
  title?: string;
}

const MARGIN = 16;
const GAP = 32;
const FONT = 13;
const TITLE_FONT = 14;
const TITLE_HEIGHT = 26;
const LEGEND_GAP = 10;
const LEGEND_ROW = 18;
const SWATCH = 12;
/** Monospace fonts are about 0.6 em wide per character, so text widths can be known in advance. */
const CHAR_WIDTH = 0.6;
const INK = "#222222";
const GRID_LINE = "#3a3a3a";

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** Numbers as short, stable text (no 0.30000000000000004). */
function num(v: number): string {
  return String(Number(v.toFixed(3)));
}

/**
 * One frame as a standalone SVG: 100 cells (black when empty, else the colour of the highest
 * channel set), a thin grid, an optional title above and the legend below. The output depends only
 * on the input (no ids, no dates), so a regenerated picture diffs cleanly.
 */
export function renderMinatarSvg(
  obs: ArrayLike<number>,
  channels: readonly string[],
  options: MinatarSvgOptions & { title?: string } = {},
): string {
  const { title, ...rest } = options;
  return svgRow("renderMinatarSvg", [{ obs, channels, ...(title === undefined ? {} : { title }) }], rest);
}

/**
 * Several frames side by side in one SVG (e.g. one per game for the docs), each drawn as by
 * `renderMinatarSvg` with its own palette; the grids line up along the top.
 */
export function renderMinatarSvgRow(frames: readonly MinatarSvgFrame[], options: MinatarSvgOptions = {}): string {
  return svgRow("renderMinatarSvgRow", frames, options);
}

function svgRow(who: string, frames: readonly MinatarSvgFrame[], options: MinatarSvgOptions): string {
  if (!Array.isArray(frames as unknown) || frames.length === 0)
    throw new StaqInputError(`${who}: frames must be a non-empty array of { obs, channels, title? }`);
  const cellSize = options.cellSize ?? 24;
  if (!(typeof cellSize === "number" && Number.isFinite(cellSize) && cellSize > 0)) {
    throw new StaqInputError(`${who}: cellSize must be a finite number > 0; got ${cellSize}`);
  }
  const legend = options.legend ?? true;
  frames.forEach((frame, i) => {
    if (frame.title !== undefined && typeof frame.title !== "string")
      throw new StaqInputError(`${who}: frame ${i}: title must be a string; got ${typeof frame.title}`);
  });
  const tops = frames.map((frame, i) => cellChannels(frames.length === 1 ? who : `${who}: frame ${i}`, frame.obs, frame.channels));

  const grid = SIZE * cellSize;
  const titled = frames.some((frame) => frame.title);
  const gridTop = MARGIN + (titled ? TITLE_HEIGHT : 0);
  const widths = frames.map((frame) => {
    const titleWidth = frame.title ? frame.title.length * CHAR_WIDTH * TITLE_FONT : 0;
    const legendWidth = legend ? SWATCH + 6 + Math.max(...frame.channels.map((name) => name.length)) * CHAR_WIDTH * FONT : 0;
    return Math.ceil(Math.max(grid, titleWidth, legendWidth));
  });
  const legendRows = legend ? Math.max(...frames.map((frame) => frame.channels.length)) : 0;
  const width = MARGIN * 2 + widths.reduce((a, b) => a + b, 0) + GAP * (frames.length - 1);
  const height = Math.ceil(gridTop + grid + (legend ? LEGEND_GAP + legendRows * LEGEND_ROW : 0) + MARGIN);

  const label = frames.map((frame, i) => frame.title ?? `frame ${i + 1}`).join(", ");
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(`MinAtar frames: ${label}`)}">`,
    `<title>${escapeXml(`MinAtar frames: ${label}`)}</title>`,
    `<rect class="page" width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  let left = MARGIN;
  frames.forEach((frame, f) => {
    const palette = minatarPalette(frame.channels.length);
    const top = tops[f];
    out.push(`<g class="frame" transform="translate(${num(left)},${num(gridTop)})">`);
    if (frame.title) {
      out.push(
        `<text class="title" x="0" y="${num(-9)}" font-family="monospace" font-size="${TITLE_FONT}" font-weight="bold" fill="${INK}">${escapeXml(frame.title)}</text>`,
      );
    }
    out.push(`<g class="cells" shape-rendering="crispEdges">`);
    for (let row = 0; row < SIZE; row++) {
      for (let col = 0; col < SIZE; col++) {
        const channel = top[row * SIZE + col];
        const fill = channel < 0 ? MINATAR_EMPTY_COLOR : palette[channel];
        out.push(
          `<rect class="cell" x="${num(col * cellSize)}" y="${num(row * cellSize)}" width="${num(cellSize)}" height="${num(cellSize)}" fill="${fill}"/>`,
        );
      }
    }
    out.push(`</g>`);
    const lines: string[] = [];
    for (let i = 0; i <= SIZE; i++) {
      const at = num(i * cellSize);
      lines.push(`M${at},0V${num(grid)}`, `M0,${at}H${num(grid)}`);
    }
    out.push(`<path class="grid" d="${lines.join("")}" fill="none" stroke="${GRID_LINE}" stroke-width="1"/>`);
    if (legend) {
      frame.channels.forEach((name, i) => {
        const y = grid + LEGEND_GAP + i * LEGEND_ROW;
        out.push(
          `<rect class="swatch" x="0" y="${num(y + (LEGEND_ROW - SWATCH) / 2)}" width="${SWATCH}" height="${SWATCH}" fill="${palette[i]}" stroke="#888888" stroke-width="1"/>`,
          `<text class="legend" x="${SWATCH + 6}" y="${num(y + LEGEND_ROW / 2 + FONT * 0.35)}" font-family="monospace" font-size="${FONT}" fill="${INK}">${escapeXml(name)}</text>`,
        );
      });
    }
    out.push(`</g>`);
    left += widths[f] + GAP;
  });
  out.push(`</svg>`, "");
  return out.join("\n");
}
