import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqInputError } from "../../src/errors.ts";
import { renderLineChartSvg, type LineChartOptions, type LineSeries } from "../../src/plot/line-chart.ts";

const x = Array.from({ length: 20 }, (_, i) => i);
const decay = (rate: number, scale = 1) => x.map((i) => scale * rate ** i);

const logOptions: LineChartOptions = {
  title: "PMD error",
  xTitle: "iteration k",
  yTitle: "sup-norm error",
  logY: true,
  width: 300,
  height: 200,
};
const twoSeries: LineSeries[] = [
  { name: "exact PMD", x, y: decay(0.7) },
  { name: "StaQ M=5", x: Float64Array.from(x), y: Float64Array.from(decay(0.8, 0.5)) },
];

function assertStandaloneSvg(svg: string) {
  assert.ok(svg.startsWith("<svg"), svg.slice(0, 80));
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.ok(svg.includes("<path"));
}

test("two series on a log scale: standalone SVG with legend names, axis titles and lines", async () => {
  const svg = await renderLineChartSvg(twoSeries, logOptions);
  assertStandaloneSvg(svg);
  for (const text of ["exact PMD", "StaQ M=5", "iteration k", "sup-norm error", "PMD error"]) assert.ok(svg.includes(text), text);
  // Legend lists the names in the order given.
  assert.ok(svg.lastIndexOf("exact PMD") < svg.lastIndexOf("StaQ M=5"));
  // Log axis: decade tick labels.
  assert.ok(svg.includes(">0.001<") || svg.includes(">0.0001<"));
  // Two distinct categorical colours for the two lines, and no band.
  const strokes = new Set([...svg.matchAll(/aria-roledescription="line mark"[^>]*stroke="(#[0-9a-f]{6})"/g)].map((m) => m[1]));
  assert.equal(strokes.size, 2, [...strokes].join());
  assert.ok(!svg.includes('aria-roledescription="area mark"'));
});

test("a log x scale with markers: a metric against a setting such as M = 1, 5, 10, 30, 100", async () => {
  const series: LineSeries[] = [
    { name: "CartPole-v1", x: [1, 5, 10, 30, 100], y: [10, 20, 25, 30, 31], lower: [8, 18, 20, 28, 30], upper: [12, 22, 30, 32, 32] },
  ];
  const svg = await renderLineChartSvg(series, { xTitle: "memory M", yTitle: "area", logX: true, points: true });
  assertStandaloneSvg(svg);
  // Log x axis: 1, 10 and 100 as ticks; a marker per point (vega draws point marks as symbols).
  for (const tick of [">1<", ">10<", ">100<"]) assert.ok(svg.includes(tick), tick);
  assert.equal([...svg.matchAll(/aria-roledescription="point"/g)].length, 5);
  await assert.rejects(
    renderLineChartSvg([{ name: "s", x: [0, 1], y: [1, 2] }], { xTitle: "x", yTitle: "y", logX: true }),
    /"s": x\[0\] is 0, which a log x scale cannot draw/,
  );
});

test("rendering is deterministic", async () => {
  const a = await renderLineChartSvg(twoSeries, logOptions);
  const b = await renderLineChartSvg(twoSeries, logOptions);
  assert.equal(a, b);
});

test("bands render as a translucent area in the series colour; names are escaped", async () => {
  const mean = x.map((i) => 10 + i);
  const svg = await renderLineChartSvg(
    [
      { name: "a <b> & c", x, y: mean, lower: mean.map((v) => v - 2), upper: mean.map((v) => v + 3) },
      { name: "no band", x, y: mean.map((v) => v / 2) },
    ],
    { xTitle: "env steps", yTitle: "return", width: 300, height: 200 },
  );
  assertStandaloneSvg(svg);
  assert.ok(svg.includes("a &lt;b&gt; &amp; c"));
  assert.ok(!svg.includes("a <b>"));
  const area = svg.match(/aria-roledescription="area mark"[^>]*>/g) ?? [];
  assert.equal(area.length, 1);
  const lineColour = svg.match(
    /aria-label="[^"]*a &lt;b&gt; &amp; c[^"]*" role="graphics-symbol" aria-roledescription="line mark"[^>]*stroke="(#[0-9a-f]{6})"/,
  )?.[1];
  assert.ok(lineColour);
  assert.ok(area[0].includes(`fill="${lineColour}"`), area[0].slice(0, 200));
  assert.match(area[0], /opacity="0\.2"/);
});

test("logFloor clamps values ≤ 0 on a log scale", async () => {
  const y = decay(0.5);
  y[19] = 0;
  const svg = await renderLineChartSvg([{ name: "hits zero", x, y, lower: y.map((v) => v - 0.1), upper: y }], {
    ...logOptions,
    logFloor: 1e-6,
  });
  assertStandaloneSvg(svg);
  assert.ok(svg.includes("hits zero"));
});

async function rejects(series: readonly LineSeries[], options: LineChartOptions, pattern: RegExp) {
  await assert.rejects(renderLineChartSvg(series, options), (error: unknown) => {
    assert.ok(error instanceof StaqInputError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

test("invalid inputs throw StaqInputError naming the problem", async () => {
  const lin: LineChartOptions = { xTitle: "x", yTitle: "y" };
  const ok = { name: "s", x: [0, 1, 2], y: [1, 2, 3] };
  await rejects([], lin, /at least one series/);
  await rejects([{ ...ok, name: "" }], lin, /non-empty name/);
  await rejects([ok, { ...ok }], lin, /"s" is used twice/);
  await rejects([{ ...ok, y: [1, 2] }], lin, /"s": y has 2 values but x has 3/);
  await rejects([{ ...ok, lower: [0, 0, 0], upper: [2, 3] }], lin, /upper has 2 values/);
  await rejects([{ ...ok, lower: [0, 0, 0] }], lin, /both lower and upper/);
  await rejects([{ ...ok, x: [], y: [] }], lin, /no points/);
  await rejects([ok, { name: "t", x: [0, 1, 2], y: [1, NaN, 3] }], lin, /"t": y\[1\] is NaN/);
  await rejects([{ ...ok, x: [0, Infinity, 2] }], lin, /x\[1\] is Infinity/);
  await rejects([{ ...ok, lower: [0, 5, 0], upper: [1, 1, 1] }], lin, /lower\[1\] = 5 is above upper\[1\] = 1/);
  await rejects([{ ...ok, y: [1, 0, 3] }], { ...lin, logY: true }, /"s": y\[1\] is 0.*log y scale.*logFloor/);
  await rejects([{ ...ok, lower: [1, -1, 1], upper: [2, 2, 4] }], { ...lin, logY: true }, /lower\[1\] is -1.*logFloor/);
  await rejects([ok], { ...lin, logFloor: 1e-3 }, /logFloor only applies to a log y scale/);
  await rejects([ok], { ...lin, logY: true, logFloor: 0 }, /logFloor must be a positive/);
  await rejects([ok], { ...lin, width: -1 }, /width must be a positive/);
});
