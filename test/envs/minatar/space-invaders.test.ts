// SPDX-License-Identifier: GPL-3.0-or-later
import { spaceInvaders } from "../../../src/envs/minatar/space-invaders.ts";
import { testReplaysReference } from "./replay.ts";

testReplaysReference("space_invaders", spaceInvaders);
