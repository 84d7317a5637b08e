#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An operating-system call failed; names the call, the path and the errno text.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    /// The C function that failed.
    public let function: String
    /// The path it was called on.
    public let path: String
    /// `errno` after the failure.
    public let errno: Int32

    public var description: String {
        "\(function) failed on \(path): \(String(cString: strerror(errno)))"
    }
}

/// The one helper every status-returning system call goes through: retries
/// `EINTR`, throws with the function name otherwise. An fsync error is never retried.
@discardableResult
func systemCall<T: BinaryInteger>(_ function: String, path: String, retryOnInterrupt: Bool = true, _ call: () -> T) throws -> T {
    while true {
        let result = call()
        if result >= 0 { return result }
        let code = errno
        if code == EINTR && retryOnInterrupt { continue }
        throw SystemCallError(function: function, path: path, errno: code)
    }
}
