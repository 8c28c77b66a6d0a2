import { test } from "node:test";
import assert from "node:assert/strict";
import { planChromium } from "./chromium-setup.ts";
import type { MachineFacts } from "../../src/node/vulkan-driver.ts";

const debian: MachineFacts = {
  platform: "linux",
  isRoot: true,
  osRelease: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n',
  aptSources: [],
};
const nothing = () => false;

test("an installed Chromium is used as it is", () => {
  assert.deepEqual(
    planChromium(debian, {}, (path) => path === "/usr/bin/chromium"),
    { kind: "found", path: "/usr/bin/chromium" },
  );
  assert.deepEqual(
    planChromium(debian, {}, (path) => path === "/usr/bin/google-chrome"),
    { kind: "found", path: "/usr/bin/google-chrome" },
  );
});

test("STAQ_CHROMIUM wins, and a path that does not exist is reported, not replaced by an install", () => {
  assert.deepEqual(
    planChromium(debian, { STAQ_CHROMIUM: "/opt/chrome" }, (path) => path === "/opt/chrome"),
    { kind: "found", path: "/opt/chrome" },
  );
  const plan = planChromium(debian, { STAQ_CHROMIUM: "/opt/none" }, nothing);
  assert.equal(plan.kind, "unavailable");
  assert.match(plan.kind === "unavailable" ? plan.message : "", /STAQ_CHROMIUM is \/opt\/none, which does not exist/);
});

test("as root on Debian without Chromium, the plan installs Debian's chromium package", () => {
  const plan = planChromium(debian, {}, nothing);
  assert.equal(plan.kind, "install");
  if (plan.kind !== "install") return;
  assert.equal(plan.path, "/usr/bin/chromium");
  assert.deepEqual(
    plan.plan.commands.map((command) => command.slice(2)),
    [
      ["apt-get", "update"],
      ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
    ],
  );
});

test("elsewhere the plan says what to install", () => {
  for (const facts of [
    { ...debian, isRoot: false },
    { ...debian, osRelease: "ID=fedora\n" },
    { ...debian, platform: "darwin" },
  ]) {
    const plan = planChromium(facts, {}, nothing);
    assert.equal(plan.kind, "unavailable");
    assert.match(plan.kind === "unavailable" ? plan.message : "", /Install Chromium .*STAQ_CHROMIUM/);
  }
});
