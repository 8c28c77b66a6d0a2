// Preloaded (`node --import`) into a `staq train` child by test/cli/train.test.ts: once the process
// has nothing left to do, it stays one second more (a timer set at beforeExit). That widens, to a
// second the test can hit, the window in which a real run is still releasing its device after its
// last line: a Ctrl-C there must not turn a finished run into exit 130.
process.once("beforeExit", () => setTimeout(() => undefined, 1000));
