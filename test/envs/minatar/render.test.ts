// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../../src/errors.ts";
import { MINATAR_GAMES, makeMinatarEnv, type MinatarGameName } from "../../../src/envs/minatar/registration.ts";
import {
  MINATAR_EMPTY_COLOR,
  minatarCellChannels,
  minatarGlyphs,
  minatarPalette,
  renderMinatarSvg,
  renderMinatarSvgRow,
  renderMinatarText,
} from "../../../src/envs/minatar/render.ts";

const GAMES = Object.keys(MINATAR_GAMES) as MinatarGameName[];
const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** A few frames of a game from seed 0, with a fixed action pattern, ending before the episode does. */
function realFrames(game: MinatarGameName, steps = 25): { obs: Float32Array; channels: readonly string[]; title: string }[] {
  const env = makeMinatarEnv(game);
  const frames = [{ obs: env.reset({ seed: 0 }).obs, channels: env.game.channels, title: env.name }];
  for (let t = 0; t < steps; t++) {
    const step = env.step([5, 3, 2, 5, 1, 4][t % 6]);
    if (step.terminated) break;
    frames.push({ obs: step.obs, channels: env.game.channels, title: env.name });
  }
  return frames;
}

/** The rule, written out from the obs: the highest channel set in the cell, or −1. */
function expectedChannel(obs: ArrayLike<number>, C: number, row: number, col: number): number {
  let top = -1;
  for (let c = 0; c < C; c++) if (obs[(row * 10 + col) * C + c] === 1) top = c;
  return top;
}

function checkText(text: string, obs: ArrayLike<number>, channels: readonly string[]): void {
  const glyphs = minatarGlyphs(channels);
  const lines = text.split("\n");
  assert.equal(lines.length, 11, "10 grid lines and a legend line");
  for (let row = 0; row < 10; row++) {
    assert.equal(lines[row].length, 20, `grid line ${row} has 20 characters`);
    for (let col = 0; col < 10; col++) {
      const cell = lines[row].slice(2 * col, 2 * col + 2);
      const top = expectedChannel(obs, channels.length, row, col);
      assert.equal(cell, top < 0 ? "  " : glyphs[top], `row ${row}, col ${col}`);
    }
  }
  assert.equal(lines[10], channels.map((name, i) => `${glyphs[i]} ${name}`).join("  "));
}

/** Rough XML check: one root, tags balanced, no raw "<" or stray "&" in text or attributes. */
function parseSvg(svg: string): { tags: string[]; rects: Map<string, string[]> } {
  const tags: string[] = [];
  const stack: string[] = [];
  const rects = new Map<string, string[]>();
  let roots = 0;
  let last = 0;
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const between = svg.slice(last, match.index);
    assert.ok(!between.includes("<") && !/&(?!(amp|lt|gt|quot|apos);)/.test(between), `stray markup before ${match[0]}`);
    last = match.index + match[0].length;
    const [, closing, name, attrs, selfClosing] = match;
    assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(attrs), `unescaped & in ${match[0]}`);
    if (closing) {
      assert.equal(stack.pop(), name, `</${name}> closes the open tag`);
      continue;
    }
    if (stack.length === 0) roots++;
    tags.push(name);
    if (name === "rect") {
      const cls = /class="([^"]*)"/.exec(attrs)?.[1] ?? "";
      const fill = /fill="([^"]*)"/.exec(attrs)?.[1] ?? "";
      rects.set(cls, [...(rects.get(cls) ?? []), fill]);
    }
    if (!selfClosing) stack.push(name);
  }
  assert.equal(svg.slice(last).trim(), "", "nothing after the root");
  assert.equal(stack.length, 0, "every tag is closed");
  assert.equal(roots, 1, "one root element");
  assert.equal(tags[0], "svg");
  return { tags, rects };
}

const isHex = (color: string) => /^#[0-9a-f]{6}$/.test(color);

test("the text shows every real frame cell by cell: the highest channel's glyph, blanks where empty", () => {
  for (const game of GAMES) {
    const frames = realFrames(game);
    assert.ok(frames.length > 5, `${game}: the episode lasts a few steps`);
    for (const { obs, channels } of frames) {
      const plain = renderMinatarText(obs, channels);
      checkText(plain, obs, channels);
      assert.ok(!plain.includes("\x1b"), "no escape codes without colour");
      assert.ok(/^[\x20-\x7e\n]*$/.test(plain), "plain ASCII");
      const colored = renderMinatarText(obs, channels, { color: true });
      assert.ok(colored.includes("\x1b[48;2;"), "24-bit backgrounds with colour");
      assert.equal(stripAnsi(colored), plain, `${game}: colour adds only escape codes`);
    }
  }
});

test("each game's glyphs are distinct two-character pictures, and its palette has one colour per channel", () => {
  for (const game of GAMES) {
    const { channels } = makeMinatarEnv(game).game;
    const glyphs = minatarGlyphs(channels);
    assert.equal(new Set(glyphs).size, channels.length, `${game}: ${glyphs.join(" ")}`);
    for (const glyph of glyphs)
      assert.ok(/^[\x21-\x7e][\x20-\x7e]$|^[\x20-\x7e][\x21-\x7e]$/.test(glyph), `${game}: ${JSON.stringify(glyph)}`);
    const palette = minatarPalette(channels.length);
    assert.equal(palette.length, channels.length);
    assert.equal(new Set(palette).size, channels.length);
    assert.ok(palette.every(isHex) && !palette.includes(MINATAR_EMPTY_COLOR), palette.join(" "));
  }
  // Unknown names fall back to their letters, and stay distinct.
  assert.deepEqual(minatarGlyphs(["gold", "goal", "ghost", "ball"]), ["$$", "gg", "hh", "()"]);
  assert.deepEqual(minatarGlyphs(["x", "x", "x"]), ["xx", "XX", "00"]);
});

test("the palette is cubehelix: black to white through colour, brighter for each later channel", () => {
  for (const n of [1, 2, 4, 6, 7, 10, 40]) {
    const palette = minatarPalette(n);
    // Green's helix keeps 0.30 R + 0.59 G + 0.11 B on the grey ramp, so brightness rises with the channel.
    const brightness = palette.map((c) => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
      return 0.3 * r + 0.59 * g + 0.11 * b;
    });
    for (let k = 1; k < n; k++) assert.ok(brightness[k] > brightness[k - 1], `n=${n}: ${palette.join(" ")}`);
    // seaborn leaves out both ends of the map: nothing black, nothing white.
    assert.ok(brightness[0] > 0 && brightness[n - 1] < 255);
  }
  // One colour is the middle of the map: grey 128/255 plus the helix offset there.
  assert.deepEqual(minatarPalette(1), ["#a1794a"]);
  assert.throws(() => minatarPalette(0), /channelCount must be an integer >= 1; got 0/);
});

test("where channels overlap, the cell shows the highest channel (text and SVG)", () => {
  const channels = ["paddle", "ball", "trail", "brick"];
  const obs = new Float32Array(400);
  const set = (row: number, col: number, ...cs: number[]) => cs.forEach((c) => (obs[(row * 10 + col) * 4 + c] = 1));
  set(0, 0, 0, 2); // paddle + trail → trail
  set(0, 1, 1, 3); // ball + brick → brick
  set(0, 2, 0, 1, 2, 3); // everything → brick
  set(0, 3, 0, 1); // paddle + ball → ball
  set(0, 4, 0); // paddle alone
  const top = minatarCellChannels(obs, channels);
  assert.deepEqual([...top.slice(0, 6)], [2, 3, 3, 1, 0, -1]);
  assert.ok(top.slice(5).every((c) => c === -1));
  const lines = renderMinatarText(obs, channels).split("\n");
  assert.equal(lines[0], ".." + "##" + "##" + "()" + "==" + " ".repeat(10));
  assert.ok(
    lines.slice(1, 10).every((line) => line === " ".repeat(20)),
    "empty rows are blank",
  );
  const palette = minatarPalette(4);
  const fills = parseSvg(renderMinatarSvg(obs, channels)).rects.get("cell")!;
  assert.deepEqual(fills.slice(0, 6), [palette[2], palette[3], palette[3], palette[1], palette[0], MINATAR_EMPTY_COLOR]);
});

test("property: any 0/1 frame renders cell by cell by the highest-channel rule", () => {
  const frame = fc.integer({ min: 1, max: 12 }).chain((C) =>
    fc.record({
      channels: fc.constant(Array.from({ length: C }, (_, i) => `ch${i}`)),
      values: fc.array(fc.constantFrom(0, 1), { minLength: 100 * C, maxLength: 100 * C }),
    }),
  );
  fc.assert(
    fc.property(frame, ({ channels, values }) => {
      const obs = Float32Array.from(values);
      const plain = renderMinatarText(obs, channels);
      checkText(plain, obs, channels);
      assert.equal(stripAnsi(renderMinatarText(obs, channels, { color: true })), plain);
      const palette = minatarPalette(channels.length);
      const fills = parseSvg(renderMinatarSvg(obs, channels, { legend: false })).rects.get("cell")!;
      assert.equal(fills.length, 100);
      fills.forEach((fill, cell) => {
        const top = expectedChannel(obs, channels.length, Math.floor(cell / 10), cell % 10);
        assert.equal(fill, top < 0 ? MINATAR_EMPTY_COLOR : palette[top]);
      });
    }),
    { numRuns: 60 },
  );
});

test("the SVG is well formed: 100 cells, a grid, a legend swatch per channel, an escaped title", () => {
  const [{ obs, channels }] = realFrames("seaquest", 10).slice(-1);
  const svg = renderMinatarSvg(obs, channels, { title: "Seaquest <frame> & co" });
  const { tags, rects } = parseSvg(svg);
  assert.equal(rects.get("cell")!.length, 100);
  assert.ok(rects.get("cell")!.every(isHex));
  assert.deepEqual(rects.get("swatch"), minatarPalette(channels.length));
  assert.equal(tags.filter((t) => t === "path").length, 1, "one path for the grid");
  assert.ok(svg.includes(">Seaquest &lt;frame&gt; &amp; co</text>"));
  for (const name of channels) assert.ok(svg.includes(`>${name}</text>`), name);
  assert.ok(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/.test(svg));
  // Without legend or title: only the page, the cells and the grid.
  const bare = parseSvg(renderMinatarSvg(obs, channels, { legend: false, cellSize: 10 }));
  assert.equal(bare.rects.get("swatch"), undefined);
  assert.ok(!bare.tags.includes("text"));
  assert.equal(bare.rects.get("cell")!.length, 100);
});

test("the SVG is byte-identical for the same input, and a row holds one panel per frame", () => {
  const frames = GAMES.map((game) => realFrames(game, 15).at(-1)!);
  const row = renderMinatarSvgRow(frames);
  assert.equal(row, renderMinatarSvgRow(frames.map((f) => ({ ...f, obs: Float32Array.from(f.obs) }))));
  const { obs, channels } = frames[0];
  assert.equal(renderMinatarSvg(obs, channels, { title: "t" }), renderMinatarSvg(Float32Array.from(obs), [...channels], { title: "t" }));
  const { rects, tags } = parseSvg(row);
  assert.equal(rects.get("cell")!.length, 500);
  assert.equal(tags.filter((t) => t === "g").length, 10, "a frame group and a cell group per game");
  for (const { title } of frames) assert.ok(row.includes(`>${title}</text>`), title);
  // Each panel uses its own game's palette.
  assert.equal(
    rects.get("swatch")!.length,
    frames.reduce((n, f) => n + f.channels.length, 0),
  );
});

test("bad inputs throw StaqInputError saying what was wrong", () => {
  const channels = ["paddle", "ball", "trail", "brick"];
  const good = new Float32Array(400);
  const cases: [() => unknown, RegExp][] = [
    [
      () => renderMinatarText(new Float32Array(399), channels),
      /renderMinatarText: obs has 399 values, but a 10×10 frame with 4 channels \(paddle, ball, trail, brick\) has 400/,
    ],
    [() => renderMinatarSvg(new Float32Array(100), channels), /renderMinatarSvg: obs has 100 values.* has 400/],
    [
      () =>
        renderMinatarText(
          Float32Array.from(good, (_, i) => (i === 42 ? 0.5 : 0)),
          channels,
        ),
      /obs\[42\] \(row 1, col 0, channel 2 "trail"\) is 0\.5; MinAtar frames hold only 0 and 1/,
    ],
    [
      () =>
        renderMinatarText(
          Float32Array.from(good, (_, i) => (i === 3 ? NaN : 0)),
          channels,
        ),
      /obs\[3\] \(row 0, col 0, channel 3 "brick"\) is NaN/,
    ],
    [
      () =>
        renderMinatarText(
          Float32Array.from(good, (_, i) => (i === 399 ? 2 : 0)),
          channels,
        ),
      /obs\[399\] \(row 9, col 9, channel 3 "brick"\) is 2/,
    ],
    [
      () =>
        renderMinatarText(
          Float32Array.from(good, (_, i) => (i === 0 ? -1 : 0)),
          channels,
        ),
      /obs\[0\] .* is -1/,
    ],
    [() => renderMinatarText(good, []), /channels must be a non-empty array of channel names/],
    [
      () => renderMinatarText(good, ["paddle", "ball\n", "trail", "brick"]),
      /channel 1 must be a non-empty name without control characters; got "ball\\n"/,
    ],
    [() => renderMinatarText(good, ["paddle", "", "trail", "brick"]), /channel 1 must be a non-empty name/],
    [() => renderMinatarText(null as unknown as Float32Array, channels), /obs must be a Float32Array/],
    [() => renderMinatarSvg(good, channels, { cellSize: 0 }), /cellSize must be a finite number > 0; got 0/],
    [() => renderMinatarSvg(good, channels, { cellSize: NaN }), /cellSize must be a finite number > 0; got NaN/],
    [() => renderMinatarSvgRow([]), /frames must be a non-empty array/],
    [
      () =>
        renderMinatarSvgRow([
          { obs: good, channels },
          { obs: new Float32Array(4), channels },
        ]),
      /renderMinatarSvgRow: frame 1: obs has 4 values/,
    ],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (error: unknown) => error instanceof StaqInputError && message.test(error.message), String(message));
  }
});
