// SPDX-License-Identifier: GPL-3.0-or-later
import { freeway } from "../../../src/envs/minatar/freeway.ts";
import { testReplaysReference } from "./replay.ts";

testReplaysReference("freeway", freeway);
