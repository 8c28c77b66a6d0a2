// SPDX-License-Identifier: GPL-3.0-or-later
import { breakout } from "../../../src/envs/minatar/breakout.ts";
import { testReplaysReference } from "./replay.ts";

testReplaysReference("breakout", breakout);
