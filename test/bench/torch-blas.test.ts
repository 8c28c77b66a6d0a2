// `npm run bench`'s OpenBLAS setup (scripts/torch-blas.ts): every branch of the plan, from given
// machine facts and given BLAS probes; which bench runs need it; and the report's fairness line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { blasIsOptimised, describeTorchCpu, type PytorchTrainResult } from "../../bench/pytorch-train-baseline.ts";
import { benchRunsTorchOnCpu, planTorchBlas, type TorchBlasProbe } from "../../scripts/torch-blas.ts";
import type { MachineFacts } from "../../src/node/vulkan-driver.ts";

const debian: MachineFacts = {
  platform: "linux",
  isRoot: true,
  osRelease: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n',
  aptSources: [],
};
const generic = { blasInfo: "generic", lapackInfo: "generic", mkldnn: "ON" };
// What bench/pytorch_train.py reports for Debian's python3-torch without and with libopenblas0-pthread.
const reference: TorchBlasProbe = {
  python: "/usr/bin/python3",
  blas: {
    libraries: ["/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0", "/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3.11.0"],
    name: "reference BLAS (netlib)",
  },
  build: generic,
};
const openblas: TorchBlasProbe = {
  python: "/usr/bin/python3",
  blas: {
    libraries: [
      "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
      "/usr/lib/x86_64-linux-gnu/openblas-pthread/liblapack.so.3",
      "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so",
    ],
    name: "OpenBLAS",
  },
  build: generic,
};

test("as root on Debian with the reference BLAS, the plan installs libopenblas0-pthread without its recommends", () => {
  const plan = planTorchBlas(debian, reference);
  assert.equal(plan.kind, "install");
  if (plan.kind !== "install") return;
  assert.equal(plan.plan.newSource, undefined);
  assert.deepEqual(plan.plan.commands, [
    ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update"],
    ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", "libopenblas0-pthread"],
  ]);
  assert.match(plan.reason, /\/usr\/bin\/python3's torch runs its matrix products on the reference BLAS/);
  assert.match(plan.reason, /not a fair baseline/);
});

test("with an optimised BLAS already the plan does nothing, wherever it is", () => {
  const mklWheel: TorchBlasProbe = {
    python: "/opt/venv/bin/python3",
    blas: { libraries: [], name: null },
    build: { blasInfo: "mkl", lapackInfo: "mkl", mkldnn: "ON" },
  };
  for (const facts of [debian, { ...debian, isRoot: false }, { ...debian, osRelease: "ID=fedora\n" }, { ...debian, platform: "darwin" }]) {
    assert.deepEqual(planTorchBlas(facts, openblas), { kind: "fair", blas: "OpenBLAS" });
    assert.equal(planTorchBlas(facts, mklWheel).kind, "fair");
    assert.equal(planTorchBlas(facts, { ...openblas, blas: { libraries: ["/opt/lib/libmkl_rt.so.2"], name: "MKL" } }).kind, "fair");
  }
});

test("not root, or not Debian, the plan installs nothing and says the command to run", () => {
  const cases: [MachineFacts, RegExp][] = [
    [{ ...debian, isRoot: false }, /needs root: run `sudo apt-get install libopenblas0-pthread`, then the benchmark again/],
    [{ ...debian, osRelease: "ID=fedora\n" }, /this is not Debian: on Debian or Ubuntu run `sudo apt-get install libopenblas0-pthread`/],
    [
      { ...debian, osRelease: 'ID="ubuntu"\nID_LIKE=debian\n' },
      /this is not Debian: on Debian or Ubuntu run `sudo apt-get install libopenblas0-pthread`/,
    ],
    [{ ...debian, platform: "darwin" }, /this is not Debian/],
  ];
  for (const [facts, says] of cases) {
    const plan = planTorchBlas(facts, reference);
    assert.equal(plan.kind, "manual", JSON.stringify(facts));
    if (plan.kind !== "manual") continue;
    assert.match(
      plan.message,
      /^\/usr\/bin\/python3's torch runs its matrix products on the reference BLAS \(\/usr\/lib\/x86_64-linux-gnu\/blas\/libblas/,
    );
    assert.match(plan.message, says);
  }
});

test("a reference BLAS that is not the system's libblas.so.3 is not installed over, even as root on Debian", () => {
  const conda = {
    ...reference,
    python: "/opt/conda/bin/python3",
    blas: { libraries: ["/opt/conda/lib/blas/libblas.so.3"], name: "reference BLAS (netlib)" },
  };
  const plan = planTorchBlas(debian, conda);
  assert.equal(plan.kind, "manual");
  if (plan.kind === "manual") assert.match(plan.message, /not the system's libblas\.so\.3/);
});

test("a BLAS the probe does not recognise, or none seen, installs nothing", () => {
  const cases: TorchBlasProbe[] = [
    { ...reference, blas: { libraries: ["/usr/lib/x86_64-linux-gnu/atlas/libblas.so.3"], name: "ATLAS" } },
    { ...reference, blas: { libraries: [], name: null } },
  ];
  for (const probe of cases) {
    const plan = planTorchBlas(debian, probe);
    assert.equal(plan.kind, "unknown", JSON.stringify(probe.blas));
    if (plan.kind === "unknown") assert.match(plan.message, /installs nothing/);
  }
});

test("the setup runs only for bench runs with a PyTorch baseline on the CPU", () => {
  assert.equal(benchRunsTorchOnCpu(["stack", "train", "precompute", "tabular", "envs"], ["--quick"]), true);
  assert.equal(benchRunsTorchOnCpu(["train"], []), true);
  assert.equal(benchRunsTorchOnCpu(["train"], ["--help"]), false);
  // The conv rows' PyTorch baseline runs on the CPU by default.
  assert.equal(benchRunsTorchOnCpu(["stack"], ["--quick"]), true);
  assert.equal(benchRunsTorchOnCpu(["stack"], ["--quick", "--rows", "dense"]), false);
  assert.equal(benchRunsTorchOnCpu(["stack"], ["--quick", "--conv-pytorch=off"]), false);
  assert.equal(benchRunsTorchOnCpu(["stack"], ["--full", "--pytorch", "cuda", "--conv-pytorch", "cuda"]), false);
  assert.equal(benchRunsTorchOnCpu(["stack"], ["--rows", "conv", "--pytorch", "cpu", "--conv-pytorch", "off"]), false);
  assert.equal(benchRunsTorchOnCpu(["stack"], ["--pytorch", "cpu"]), true);
  assert.equal(benchRunsTorchOnCpu(["stack", "envs"], ["--pytorch=cpu"]), true);
  assert.equal(benchRunsTorchOnCpu(["precompute", "tabular", "envs"], ["--pytorch", "cpu"]), false);
});

test("the report's PyTorch line says the command to run when the baseline is not a fair one", () => {
  const result = (probe: TorchBlasProbe): PytorchTrainResult => ({
    torch: "1.13.0a0",
    device: "cpu",
    threads: 2,
    interopThreads: 1,
    blas: probe.blas,
    build: probe.build,
    parallelInfo: "",
    precision: "float32",
    step: "",
    lr: 1e-4,
    gamma: 0.99,
    configs: [],
  });
  assert.match(describeTorchCpu(result(reference)), /not a fair baseline: on Debian run `apt-get install libopenblas0-pthread` as root/);
  assert.doesNotMatch(describeTorchCpu(result(openblas)), /not a fair baseline/);
  assert.equal(blasIsOptimised({ libraries: [], name: null }, { ...generic, blasInfo: "open" }), true);
  assert.equal(blasIsOptimised({ libraries: [], name: null }, generic), false);
});
