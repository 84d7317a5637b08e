#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry point (compiler-rt `FuzzerInterface.h`), linked in by `-sanitize=fuzzer`.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The one input function of this process (libFuzzer takes a C function pointer, which cannot capture).
nonisolated(unsafe) private var currentTarget: (([UInt8]) -> Bool)?

/// Runs libFuzzer with the process's arguments on `body`; returns its exit status.
/// Only callable in a binary built with `-sanitize=fuzzer` (.ci/fuzz).
public func runFuzzer(_ body: @escaping ([UInt8]) -> Bool) -> CInt {
    currentTarget = body
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, count in
        _ = currentTarget?(count == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: count)))
        return 0
    }
}

/// Exits the process (re-exported so the fuzz executables need no Glibc import).
public func exit(_ status: CInt) -> Never { Glibc.exit(status) }
