#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system calls through which evidence reaches the disk.
///
/// Production uses `POSIXCalls`; tests substitute a wrapper that fails the n-th
/// write, fsync, link or rename with a chosen errno (THREATS.md 32, 34). A
/// failing call returns -1 with `errno` set, exactly like the C function.
public protocol SystemCalls: Sendable {
    func openat(_ folder: Int32, _ path: String, _ flags: Int32, _ mode: mode_t) -> Int32
    func write(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int
    func fsync(_ descriptor: Int32) -> Int32
    func linkat(_ fromFolder: Int32, _ from: String, _ toFolder: Int32, _ to: String, _ flags: Int32) -> Int32
    func renameat(_ fromFolder: Int32, _ from: String, _ toFolder: Int32, _ to: String) -> Int32
}

/// The real system calls.
public struct POSIXCalls: SystemCalls {
    public init() {}
    public func openat(_ folder: Int32, _ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Glibc.openat(folder, path, flags, mode) }
    public func write(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Glibc.write(descriptor, buffer, count) }
    public func fsync(_ descriptor: Int32) -> Int32 { Glibc.fsync(descriptor) }
    public func linkat(_ fromFolder: Int32, _ from: String, _ toFolder: Int32, _ to: String, _ flags: Int32) -> Int32 {
        Glibc.linkat(fromFolder, from, toFolder, to, flags)
    }
    public func renameat(_ fromFolder: Int32, _ from: String, _ toFolder: Int32, _ to: String) -> Int32 {
        Glibc.renameat(fromFolder, from, toFolder, to)
    }
}
