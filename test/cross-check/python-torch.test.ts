// The PyTorch setup's plan (scripts/python-torch.ts): every branch, from given machine facts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { planPythonTorch, probeTorchPython, torchPythonForTests } from "../../scripts/python-torch.ts";
import type { MachineFacts } from "../../src/node/vulkan-driver.ts";

const debian: MachineFacts = {
  platform: "linux",
  isRoot: true,
  osRelease: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n',
  aptSources: [],
};
// What probing a Python without torch gives (a path that does not exist: no torch whatever this machine has).
function probeMissing(): { missing: string } {
  const saved = process.env.STAQ_PYTHON;
  process.env.STAQ_PYTHON = "/nonexistent/python3";
  try {
    const probe = probeTorchPython();
    assert.ok("missing" in probe);
    return probe;
  } finally {
    if (saved === undefined) delete process.env.STAQ_PYTHON;
    else process.env.STAQ_PYTHON = saved;
  }
}
const missing = probeMissing();

test("a Python that already has torch is used as it is, wherever it is", () => {
  const found = { python: "/opt/venv/bin/python3", torch: "2.5.1", cuda: false };
  for (const facts of [debian, { ...debian, isRoot: false }, { ...debian, platform: "darwin" }]) {
    assert.deepEqual(planPythonTorch(facts, {}, found), { kind: "found", python: found });
  }
});

test("as root on Debian without torch, the plan installs Debian's python3-torch without its recommends", () => {
  const plan = planPythonTorch(debian, {}, missing);
  assert.equal(plan.kind, "install");
  if (plan.kind !== "install") return;
  assert.equal(plan.plan.newSource, undefined);
  assert.deepEqual(plan.plan.commands, [
    ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update"],
    ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", "python3-torch"],
  ]);
});

test("elsewhere, or when $STAQ_PYTHON names a Python without torch, the plan says what to install and installs nothing", () => {
  const cases: [MachineFacts, { STAQ_PYTHON?: string }, RegExp][] = [
    [{ ...debian, isRoot: false }, {}, /needs root/],
    [{ ...debian, osRelease: "ID=fedora\n" }, {}, /not Debian/],
    [{ ...debian, osRelease: 'ID="ubuntu"\nID_LIKE=debian\n' }, {}, /not Debian/],
    [{ ...debian, platform: "darwin" }, {}, /not Debian/],
    [debian, { STAQ_PYTHON: "/opt/py/bin/python3" }, /STAQ_PYTHON is \/opt\/py\/bin\/python3/],
  ];
  for (const [facts, env, why] of cases) {
    const plan = planPythonTorch(facts, env, missing);
    assert.equal(plan.kind, "unavailable", JSON.stringify({ facts, env }));
    if (plan.kind !== "unavailable") continue;
    assert.match(plan.message, why);
    assert.match(plan.message, /^The PyTorch cross-checks cannot run: no Python with PyTorch found \(\/nonexistent\/python3: not found\)/);
    assert.match(plan.message, /pip install torch, or apt-get install python3-torch/);
  }
});

test("without torch the tests skip with what to install, and under CI they fail instead", () => {
  const saved = { CI: process.env.CI, STAQ_PYTHON: process.env.STAQ_PYTHON };
  // A Python that does not exist: findTorchPython finds no torch whatever this machine has.
  process.env.STAQ_PYTHON = "/nonexistent/python3";
  try {
    delete process.env.CI;
    const local = torchPythonForTests();
    assert.equal(local.python, undefined);
    assert.match(String(local.skip), /\/nonexistent\/python3: not found.*pip install torch/);
    process.env.CI = "true";
    assert.throws(() => torchPythonForTests(), /Under CI the PyTorch cross-checks must run/);
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});
