// Preloaded (`node --import`) into a `staq train` child by test/cli/train.test.ts: once the process
// has nothing left to do, it stays one second more (a timer set at beforeExit). That widens, to a
// second the test can hit, the window in which a real run is still releasing its device after its
// last line: a Ctrl-C there must not turn a finished run into exit 130.
//
// It also says on stderr when a SIGINT reaches a listener, without adding one (a listener would
// replace Node's default, the behaviour under test): a signal that came while the run had no
// listener at all would otherwise pass unseen, and the test with it.
process.once("beforeExit", () => setTimeout(() => undefined, 1000));

const emit = process.emit.bind(process) as (event: string, ...args: unknown[]) => boolean;
(process as unknown as { emit: typeof emit }).emit = (event, ...args) => {
  if (event === "SIGINT") process.stderr.write("linger-after-work: SIGINT reached a listener\n");
  return emit(event, ...args);
};
