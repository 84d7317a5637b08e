import CSodium

/// The single gate to libsodium: initialisation and status checking.
enum Sodium {
    /// `sodium_init` runs exactly once, the first time this is read (Swift
    /// guarantees thread-safe, one-time initialisation of static stored properties).
    private static let initStatus: Int32 = sodium_init()

    /// Ensures libsodium is initialised; every public entry point calls this first.
    static func ready() throws {
        // 0: initialised now, 1: already initialised, -1: failure (no entropy source, ...).
        guard initStatus >= 0 else { throw CryptoError.libsodiumFailure(function: "sodium_init") }
    }

    /// Checks the status returned by a libsodium function (0 is success).
    ///
    /// Every libsodium call that returns a status goes through here, so a failure
    /// always surfaces as a thrown error that names the C function.
    @inline(__always)
    static func check(_ status: Int32, _ function: String) throws {
        guard status == 0 else { throw CryptoError.libsodiumFailure(function: function) }
    }

    /// Checks a fixed length and throws a named error otherwise.
    @inline(__always)
    static func requireLength(_ actual: Int, _ expected: Int, _ what: String) throws {
        guard actual == expected else {
            throw CryptoError.invalidLength(what: what, expected: expected, actual: actual)
        }
    }
}

extension UnsafeRawBufferPointer {
    /// A non-null `UInt8` pointer even for an empty buffer (libsodium's
    /// parameters are declared non-null; with length 0 nothing is read).
    var nonNullBytes: UnsafePointer<UInt8> {
        if let base = baseAddress { return base.assumingMemoryBound(to: UInt8.self) }
        return UnsafePointer(Sodium.emptyByte)
    }
}

extension UnsafeMutableRawBufferPointer {
    /// A non-null mutable `UInt8` pointer even for an empty buffer.
    var nonNullBytes: UnsafeMutablePointer<UInt8> {
        if let base = baseAddress { return base.assumingMemoryBound(to: UInt8.self) }
        return Sodium.emptyByte
    }
}

extension Sodium {
    /// A one-byte scratch location standing in for empty buffers; never read meaningfully.
    nonisolated(unsafe) static let emptyByte: UnsafeMutablePointer<UInt8> = {
        let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return pointer
    }()
}
