/**
 * A real, single-node Slurm cluster on this machine for the sweep's Slurm test: Debian's slurm-wlm
 * and munge (installed here when missing, as root on Debian), munged (started unless one already
 * answers), and slurmctld and slurmd in the foreground as children of the test, with their
 * configuration, state and logs in a temporary directory and free ports, so a cluster already on
 * the machine is left alone. proctrack/linuxproc and task/none need no cgroups or systemd.
 *
 * Elsewhere (not root, not Debian) the test is skipped with what to install, except under CI (CI
 * set), where a skip would hide a missing step.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { cpus, hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { aptInstallPlan, readMachineFacts, runInstallPlan } from "../../src/node/vulkan-driver.ts";

const PROGRAMS = ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/bin/squeue", "/usr/sbin/munged", "/usr/bin/munge"];
const HOW_TO_INSTALL =
  "Install Slurm and MUNGE (Debian: apt-get install slurm-wlm munge) and run the tests as root, or run them on a machine where they can be installed.";

export interface SlurmCluster {
  /** The environment for Slurm's client commands (SLURM_CONF points at this cluster's config). */
  env: NodeJS.ProcessEnv;
  /** The partition jobs go to. */
  partition: string;
  /** Stops the daemons this helper started and removes its directory. */
  stop(): Promise<void>;
  /** The daemons' logs, for a failing test's message. */
  logs(): Promise<string>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether a MUNGE daemon answers on the default socket (what Slurm's auth/munge uses). */
function mungeWorks(): boolean {
  const encoded = spawnSync("munge", ["-n"], { encoding: "utf8" });
  if (encoded.status !== 0) return false;
  return spawnSync("unmunge", [], { input: encoded.stdout, stdio: ["pipe", "ignore", "ignore"] }).status === 0;
}

function startMunge(): boolean {
  if (mungeWorks()) return false;
  spawnSync("mkdir", ["-p", "/run/munge"]);
  spawnSync("chown", ["munge:munge", "/run/munge"]);
  // munged refuses to run as root: as its own user, it forks into the background by itself.
  const started = spawnSync("runuser", ["-u", "munge", "--", "/usr/sbin/munged"], { encoding: "utf8" });
  if (started.status !== 0 || !mungeWorks()) throw new Error(`munged did not start: ${started.stderr}`);
  return true;
}

async function waitFor(what: string, check: () => boolean, seconds: number, logs: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${seconds} s; the daemons' logs:\n${await logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Starts the cluster, installing Slurm when it is missing and this is Debian as root. Returns the
 * reason it cannot when that is not so (thrown under CI).
 */
export async function startSlurmCluster(
  log: (line: string) => void = (line) => console.error(line),
): Promise<SlurmCluster | { skip: string }> {
  const facts = readMachineFacts();
  const unavailable = (message: string) => {
    if (process.env.CI) throw new Error(`The Slurm test cannot run: ${message}`);
    return { skip: message };
  };
  const isDebian = /^ID="?debian"?$/m.test(facts.osRelease);
  if (!facts.isRoot) return unavailable(`starting Slurm's daemons needs root. ${HOW_TO_INSTALL}`);
  if (PROGRAMS.some((p) => !existsSync(p))) {
    if (!isDebian)
      return unavailable(`Slurm or MUNGE is missing (${PROGRAMS.filter((p) => !existsSync(p)).join(", ")}). ${HOW_TO_INSTALL}`);
    runInstallPlan(
      aptInstallPlan(["slurm-wlm", "munge"], "Slurm and MUNGE (Debian's slurm-wlm and munge), for the sweep's Slurm test"),
      log,
      "stderr",
    );
  }
  const startedMunge = startMunge();

  const dir = await mkdtemp(join(tmpdir(), "staq-slurm-"));
  await mkdir(join(dir, "state"));
  await mkdir(join(dir, "spool"));
  const node = hostname().split(".")[0];
  const partition = "staq";
  const conf = join(dir, "slurm.conf");
  await writeFile(
    conf,
    [
      "ClusterName=staqtest",
      `SlurmctldHost=${node}`,
      `SlurmctldPort=${await freePort()}`,
      `SlurmdPort=${await freePort()}`,
      "SlurmUser=root",
      "AuthType=auth/munge",
      // No cgroups or systemd needed: processes tracked by their parentage, no task binding.
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_CPU",
      "MpiDefault=none",
      "ReturnToService=2",
      "AccountingStorageType=accounting_storage/none",
      "JobCompType=jobcomp/none",
      `StateSaveLocation=${join(dir, "state")}`,
      `SlurmdSpoolDir=${join(dir, "spool")}`,
      `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
      `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
      `SlurmctldLogFile=${join(dir, "slurmctld.log")}`,
      `SlurmdLogFile=${join(dir, "slurmd.log")}`,
      `NodeName=${node} CPUs=${cpus().length} State=UNKNOWN`,
      `PartitionName=${partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP`,
      "",
    ].join("\n"),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const logs = async () => {
    const parts: string[] = [];
    for (const name of ["slurmctld.log", "slurmd.log"]) {
      const path = join(dir, name);
      if (existsSync(path)) parts.push(`--- ${name}\n${(await readFile(path, "utf8")).split("\n").slice(-30).join("\n")}`);
    }
    return parts.join("\n");
  };
  const daemons = [
    spawn("/usr/sbin/slurmctld", ["-D", "-f", conf], { env, stdio: "ignore" }),
    spawn("/usr/sbin/slurmd", ["-D", "-f", conf], { env, stdio: "ignore" }),
  ];
  const stop = async () => {
    for (const daemon of daemons) daemon.kill("SIGTERM");
    await Promise.all(daemons.map(exited));
    if (startedMunge) spawnSync("/usr/sbin/munged", ["--stop"]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      "the node did not become idle",
      () => spawnSync("sinfo", ["--noheader", "--format=%T"], { env, encoding: "utf8" }).stdout.trim() === "idle",
      60,
      logs,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { env, partition, stop, logs };
}
