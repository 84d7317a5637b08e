import Foundation
import Testing

/// Runs the built `evault` binary, as a user or a script would.
struct CLI {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        /// Killed by a signal (a crash, or the timeout below), rather than exiting.
        var signalled = false
        /// Killed because it ran longer than the timeout (a hang).
        var timedOut = false
    }

    /// `.build/debug/evault` next to the test bundle, or `EVAULT_BINARY`.
    static let binary: String = {
        if let override = ProcessInfo.processInfo.environment["EVAULT_BINARY"] { return override }
        let bundleFolder = Bundle.main.bundleURL.deletingLastPathComponent()
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("evault").path,
            bundleFolder.appendingPathComponent("evault").path,
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("evault").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug/evault").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[candidates.count - 1]
    }()

    /// Runs `evault ARGS` with a clean environment plus `environment`, no terminal
    /// (new session via setsid) and stdin from /dev/null.
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
                    timeout: TimeInterval = 300) throws -> Result {
        let process = Process()
        // setsid detaches from any controlling terminal, as in CI: passphrase prompts must fail fast.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["--wait", binary] + arguments
        var env = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory(), "LANG": "C.UTF-8"]
        env.merge(environment) { $1 }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let timedOut = LockedFlag()
        let watchdog = DispatchWorkItem {
            timedOut.set()
            kill(-process.processIdentifier, SIGKILL)  // setsid made it a process group
            kill(process.processIdentifier, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        // Closed now, not whenever Foundation lets go of the pipes: a suite of
        // hundreds of runs would otherwise hold about 1,400 descriptors, and with
        // a full /proc/self/fd listing Foundation's Process.run (Swift 6.3.1)
        // reads past the end of readdir's buffer and crashes
        // (swiftlang/swift-corelibs-foundation pull request 5472).
        try? out.fileHandleForReading.close()
        try? err.fileHandleForReading.close()
        process.waitUntilExit()
        watchdog.cancel()
        let errors = String(decoding: stderr, as: UTF8.self)
        // setsid --wait reports a child killed by a signal as "child N did not exit normally", exit 1.
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: errors,
                      signalled: process.terminationReason == .uncaughtSignal || errors.contains("did not exit normally"),
                      timedOut: timedOut.value)
    }
}

/// A fresh temporary folder, removed when released.
final class Scratch {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("evault-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }
    func read(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: file(name))) }
    func write(_ data: Data, _ name: String) throws { try data.write(to: URL(fileURLWithPath: file(name))) }
    func list() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}

/// A flag set from another thread.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    func set() { lock.lock(); raised = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return raised }
}
