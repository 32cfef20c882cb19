// The implementation under test. Every interop test reaches Switchboard only
// through this module, so the whole suite can be pointed at another
// implementation (for instance "zeromq" itself, to check the harness) by
// changing this single line.
export * from "../../src/index.js";
