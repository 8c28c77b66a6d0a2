import { test } from "node:test";
import assert from "node:assert/strict";
import { debianMirrorUri, planVulkanDriverInstall, type MachineFacts } from "../../src/node/vulkan-driver.ts";

const bookworm = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n';
const debianSources = {
  path: "/etc/apt/sources.list.d/debian.sources",
  contents: [
    "Types: deb",
    "URIs: http://mirror.example/debian",
    "Suites: bookworm bookworm-updates",
    "Components: main",
    "",
    "Types: deb",
    "URIs: http://mirror.example/debian-security",
    "Suites: bookworm-security",
    "Components: main",
  ].join("\n"),
};
const facts = (overrides: Partial<MachineFacts>): MachineFacts => ({
  platform: "linux",
  isRoot: true,
  osRelease: bookworm,
  aptSources: [debianSources],
  ...overrides,
});

test("root on bookworm: add bookworm-backports from the configured mirror, then install from it", () => {
  const plan = planVulkanDriverInstall(facts({}));
  assert.equal(plan.kind, "install");
  if (plan.kind !== "install") return;
  assert.match(plan.newSource!.contents, /URIs: http:\/\/mirror\.example\/debian\n/);
  assert.match(plan.newSource!.contents, /Suites: bookworm-backports/);
  assert.deepEqual(plan.commands.at(-1)!.slice(-4), ["-t", "bookworm-backports", "mesa-vulkan-drivers", "libvulkan1"]);
  assert.ok(plan.commands[0].includes("update"));
});

test("an existing backports source is reused, not written again", () => {
  const withBackports = { path: "/etc/apt/sources.list", contents: "deb http://other.example/debian bookworm-backports main\n" };
  const plan = planVulkanDriverInstall(facts({ aptSources: [debianSources, withBackports] }));
  assert.equal(plan.kind, "install");
  assert.equal(plan.kind === "install" && plan.newSource, undefined);
});

test("one-line sources.list entries are understood", () => {
  const legacy = [
    { path: "/etc/apt/sources.list", contents: "# comment\ndeb [arch=amd64] http://legacy.example/debian bookworm main contrib\n" },
  ];
  assert.equal(debianMirrorUri(legacy, "bookworm"), "http://legacy.example/debian");
});

test("newer Debian installs from its own suite", () => {
  const plan = planVulkanDriverInstall(facts({ osRelease: "ID=debian\nVERSION_CODENAME=trixie\n" }));
  assert.equal(plan.kind, "install");
  if (plan.kind === "install") {
    assert.equal(plan.newSource, undefined);
    assert.ok(!plan.commands.flat().includes("-t"));
  }
});

test("without root, off Debian or without a mirror: say what to install, install nothing", () => {
  const cases: [Partial<MachineFacts>, RegExp][] = [
    [{ isRoot: false }, /needs root/],
    [{ osRelease: "ID=fedora\n" }, /not Debian \(ID=fedora\)/],
    [{ platform: "darwin" }, /this is darwin/],
    [{ aptSources: [] }, /no configured Debian mirror/],
  ];
  for (const [overrides, reason] of cases) {
    const plan = planVulkanDriverInstall(facts(overrides));
    assert.equal(plan.kind, "manual");
    if (plan.kind === "manual") {
      assert.match(plan.message, reason);
      assert.match(plan.message, /apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1/);
    }
  }
});
