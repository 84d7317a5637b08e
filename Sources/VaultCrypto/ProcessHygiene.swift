import CProcessControl
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the secrets of a running process to itself (THREATS.md 49).
///
/// `lockDown()` runs first thing in `evault`: no core file is ever written
/// (RLIMIT_CORE 0), and the process is marked not dumpable, so other
/// processes of the same user can neither attach a debugger nor read its
/// memory through /proc while an identity is unlocked.
public enum ProcessHygiene {
    /// Disables core files and same-user tracing for this process; throws if the kernel refuses.
    public static func lockDown() throws {
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        guard setrlimit(Int32(RLIMIT_CORE.rawValue), &none) == 0 else {
            throw CryptoError.systemFailure(function: "setrlimit(RLIMIT_CORE)", errno: errno)
        }
        guard evault_set_not_dumpable() == 0 else {
            throw CryptoError.systemFailure(function: "prctl(PR_SET_DUMPABLE)", errno: errno)
        }
    }

    /// Whether this process may be dumped or traced (false after `lockDown`).
    public static var isDumpable: Bool { evault_get_dumpable() != 0 }

    /// The core-file size limit in bytes (0 after `lockDown`).
    public static var coreFileLimit: UInt64 {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
        return UInt64(limit.rlim_cur)
    }
}

/// Secrets passed through the environment (`EVAULT_PASSPHRASE`), taken out of
/// it once: `capture` copies each value into `SecureBytes`, overwrites the
/// bytes in the process's environment block with zeros (so /proc/PID/environ
/// no longer shows them) and removes the variable. Call it before anything
/// else reads the environment, so that no `String` copy of it exists.
public enum SecretEnvironment {
    nonisolated(unsafe) private static var captured: [String: SecureBytes] = [:]

    /// Captures and scrubs the named variables.
    public static func capture(_ names: [String]) throws {
        for name in names {
            guard let value = getenv(name) else { continue }
            let length = strlen(value)
            captured[name] = try SecureBytes(copying: UnsafeRawBufferPointer(start: value, count: length))
            memset(value, 0, length)
            unsetenv(name)
        }
    }

    /// The captured value of `name`, if it was set; nil otherwise. Falls back
    /// to a live lookup (then scrubbed) for variables nobody captured.
    public static func take(_ name: String) -> SecureBytes? {
        if let value = captured[name] { return value }
        try? capture([name])
        return captured[name]
    }
}
