// SPDX-License-Identifier: GPL-3.0-or-later
import { seaquest } from "../../../src/envs/minatar/seaquest.ts";
import { testReplaysReference } from "./replay.ts";

testReplaysReference("seaquest", seaquest);
