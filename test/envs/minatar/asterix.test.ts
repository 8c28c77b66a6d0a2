// SPDX-License-Identifier: GPL-3.0-or-later
import { asterix } from "../../../src/envs/minatar/asterix.ts";
import { testReplaysReference } from "./replay.ts";

testReplaysReference("asterix", asterix);
