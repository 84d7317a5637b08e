import FuzzDriver
import FuzzHarness

// libFuzzer driver for FuzzTarget.publicIdentity (built by .ci/fuzz; Docs/FUZZING.md).
// SwiftPM gives every executable its own `main`, so this one hands control to
// libFuzzer's driver instead of relying on libFuzzer's `main`.
exit(runFuzzer { FuzzTarget.publicIdentity.run($0) })
