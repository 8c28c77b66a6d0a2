// SPDX-License-Identifier: GPL-3.0-or-later
// One test per MinAtar game: every reference episode recorded from upstream replays exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { MinatarGameFactory } from "../../../src/envs/minatar/game.ts";
import { checkMinatarReference } from "../../../src/envs/minatar/reference-check.ts";
import { readReference } from "../../helpers/reference.ts";

export function testReplaysReference(game: string, factory: MinatarGameFactory): void {
  test(`minatar ${game}: every reference episode matches upstream step for step`, (t) => {
    const report = checkMinatarReference(readReference(`minatar-${game}.json`), factory);
    if (report.mismatch) {
      const { seed, step, field, expected, got } = report.mismatch;
      assert.fail(`episode seed ${seed}, step ${step}, ${field}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
    }
    assert.ok(report.episodes > 0 && report.steps > 0);
    t.diagnostic(`${report.episodes} episodes, ${report.steps} steps`);
  });
}
