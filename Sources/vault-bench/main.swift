// vault-bench: in-memory throughput of the primitives EvidenceVault streams
// through, each printed next to memcpy measured in the same run (a reference
// that moves with the machine). Not a test: run it from .ci/bench in release.
import EvidenceVault
import Foundation
import VaultCrypto

// `vault-bench scale [EVENTS]` and its child `list-peak` (ScaleBenchmark.swift).
if CommandLine.arguments.count >= 2, CommandLine.arguments[1] == "scale" {
    try ScaleBenchmark.run(events: CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 100_000 : 100_000)
    exit(0)
}
// `vault-bench rotate [DOCUMENTS] [CASES]` (RotationBenchmark.swift).
if CommandLine.arguments.count >= 2, CommandLine.arguments[1] == "rotate" {
    let arguments = CommandLine.arguments
    try RotationBenchmark.run(documents: arguments.count > 2 ? Int(arguments[2]) ?? 100_000 : 100_000,
                              cases: arguments.count > 3 ? Int(arguments[3]) ?? 5_000 : 5_000)
    exit(0)
}
// `vault-bench commands [CASES] [DOCUMENTS_PER_CASE]` (CommandsBenchmark.swift).
if CommandLine.arguments.count >= 2, CommandLine.arguments[1] == "commands" {
    let arguments = CommandLine.arguments
    try CommandsBenchmark.run(cases: arguments.count > 2 ? Int(arguments[2]) ?? 1000 : 1000,
                              documentsPerCase: arguments.count > 3 ? Int(arguments[3]) ?? 100 : 100)
    exit(0)
}
// `vault-bench verify DIR`: keyless verify of a vault folder (one `commands` kept with EVAULT_BENCH_KEEP), paired
// and alternating with the raw two-core signature loop over the same events, three rounds (also for profiling).
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "verify" {
    let vault = try Vault.open(at: CommandLine.arguments[2], knownVaults: nil)
    let (signed, keys) = try CommandsBenchmark.ledgerEvents(vault.folder + "/vault.sqlite", state: try vault.replay())
    /// User and system CPU seconds of this process so far.
    func cpu() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
    for _ in 0..<3 {
        var cpuBefore = cpu()
        // EVAULT_BENCH_VERIFY_ONLY: no raw loop (to profile verify alone).
        let raw = ProcessInfo.processInfo.environment["EVAULT_BENCH_VERIFY_ONLY"] != nil ? 0
            : ScaleBenchmark.seconds { precondition(CommandsBenchmark.verifyAll(signed, keys: keys, threads: 2)) }
        let rawCPU = cpu() - cpuBefore
        var clean = false
        cpuBefore = cpu()
        let time = ScaleBenchmark.seconds { clean = vault.verify(threads: 2).isClean }
        let verifyCPU = cpu() - cpuBefore
        print(String(format: "verify: %.3f s (%.2f s CPU), %@; raw: %.3f s (%.2f s CPU); verify at %.0f%% of raw",
                     time, verifyCPU, clean ? "clean" : "findings", raw, rawCPU, raw / time * 100))
    }
    exit(0)
}
// `vault-bench replay DIR`: replays a kept vault (EVAULT_BENCH_KEEP) five times, for profiling.
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "replay" {
    let folder = CommandLine.arguments[2]
    let known = KnownVaults(path: folder + "/state/known-vaults.json")
    for _ in 0..<5 {
        let vault = try Vault.open(at: folder + "/vault", knownVaults: known)
        print(String(format: "replay: %.3f s", try ScaleBenchmark.seconds { _ = try vault.replay() }))
    }
    exit(0)
}
if CommandLine.arguments.count == 6, CommandLine.arguments[1] == "list-peak" {
    let arguments = CommandLine.arguments
    try ScaleBenchmark.listPeak(vault: arguments[2], state: arguments[3], caseID: arguments[4], identity: arguments[5])
    exit(0)
}

// `vault-bench memory FILE`: add FILE to a scratch vault and export it again through
// the library, with identities generated in memory (no Argon2id, whose 64-256 MiB
// would hide the streaming footprint), then print the process's peak RSS.
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "memory" {
    let file = CommandLine.arguments[2]
    let folder = NSTemporaryDirectory() + "vault-bench-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let custodian = try UnlockedIdentity.generate(name: "bench")
    let vault = try Vault.create(at: folder + "/vault", creator: custodian)
    try vault.createGroup(named: "bench", as: custodian)
    let theCase = try vault.createCase(inGroup: "bench", reference: "BENCH", as: custodian)
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let before = usage.ru_maxrss
    let start = DispatchTime.now().uptimeNanoseconds
    let added = try vault.addDocuments([NewDocument(path: file, kind: .video)], toCase: theCase.id.hex, as: custodian)[0]
    let middle = DispatchTime.now().uptimeNanoseconds
    _ = try vault.export(added.id.hex, to: folder + "/out.bin", as: custodian)
    let end = DispatchTime.now().uptimeNanoseconds
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let size = Double(added.metadata?.size ?? 0)
    print(String(format: "vault-bench memory: %.0f MiB file: add %.2f s (%.2f GB/s), export %.2f s (%.2f GB/s)",
                 size / 1048576, Double(middle - start) / 1e9, size / Double(middle - start),
                 Double(end - middle) / 1e9, size / Double(end - middle)))
    print("  peak RSS before streaming \(before / 1024) MiB, after add and export \(usage.ru_maxrss / 1024) MiB")
    exit(0)
}

// `vault-bench ledger N`: a vault with N documents, then the time of one full ledger
// replay (what every command does first) and of a keyless verify.
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "ledger", let count = Int(CommandLine.arguments[2]) {
    let folder = NSTemporaryDirectory() + "vault-bench-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let custodian = try UnlockedIdentity.generate(name: "bench")
    // As the CLI does: remembered heads spare re-verifying signatures already verified.
    let known = KnownVaults(path: folder + "/state/known-vaults.json")
    let vault = try Vault.create(at: folder + "/vault", creator: custodian, knownVaults: known)
    try vault.createGroup(named: "bench", as: custodian)
    let theCase = try vault.createCase(inGroup: "bench", reference: "BENCH", as: custodian)
    let file = folder + "/small.txt"
    try Data("small document".utf8).write(to: URL(fileURLWithPath: file))
    let addStart = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<count { _ = try vault.addDocuments([NewDocument(path: file, kind: .other)], toCase: theCase.id.hex, as: custodian) }
    let addSeconds = Double(DispatchTime.now().uptimeNanoseconds - addStart) / 1e9
    let replayStart = DispatchTime.now().uptimeNanoseconds
    let state = try vault.replay()
    let replaySeconds = Double(DispatchTime.now().uptimeNanoseconds - replayStart) / 1e9
    let fullStart = DispatchTime.now().uptimeNanoseconds
    _ = try Vault.open(at: folder + "/vault").replay()
    let fullSeconds = Double(DispatchTime.now().uptimeNanoseconds - fullStart) / 1e9
    let verifyStart = DispatchTime.now().uptimeNanoseconds
    let report = vault.verify()
    let verifySeconds = Double(DispatchTime.now().uptimeNanoseconds - verifyStart) / 1e9
    print(String(format: "vault-bench ledger: %d documents added in %.2f s (%.1f ms each, each a full replay + fsyncs)", count, addSeconds, addSeconds * 1000 / Double(count)))
    print(String(format: "  replay of %d events: %.3f s (%.1f us per event) with the remembered head, %.3f s (%.1f us) checking every signature;",
                 Int(state.count), replaySeconds, replaySeconds * 1e6 / Double(state.count), fullSeconds, fullSeconds * 1e6 / Double(state.count)))
    print(String(format: "  keyless verify (every signature, index, blobs): %.3f s, clean: %@", verifySeconds, report.isClean ? "yes" : "NO"))
    exit(0)
}

let megabytes = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 1024
let total = megabytes << 20
let chunk = 64 * 1024
let input = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
let output = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk + 64, alignment: 64)
for index in 0..<chunk { input[index] = UInt8(truncatingIfNeeded: index &* 31) }

func measure(_ label: String, _ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return Double(total) / seconds / 1e9
}

let memcpyRate = measure("memcpy") {
    for _ in 0..<(total / chunk) { output.baseAddress!.copyMemory(from: input.baseAddress!, byteCount: chunk) }
}
let key = try SymmetricKey.random()
let encryptor = try SecretStreamEncryptor(key: key, maxChunkLength: chunk)
var sink = 0
let pushRate = try measure("secretstream push") {
    let chunks = total / chunk
    for index in 0..<chunks {
        try encryptor.push(UnsafeRawBufferPointer(input), isFinal: index == chunks - 1) { sink &+= Int($0[0]) }
    }
}
// Decrypt what one encryptor produces, chunk by chunk, reusing one buffer.
let decryptKey = try SymmetricKey.random()
let producer = try SecretStreamEncryptor(key: decryptKey, maxChunkLength: chunk)
let sealedChunks = total / chunk
var sealed: [[UInt8]] = []
for index in 0..<min(sealedChunks, 256) {
    try producer.push(UnsafeRawBufferPointer(input), isFinal: index == min(sealedChunks, 256) - 1) { sealed.append(Array($0)) }
}
var pullRate = 0.0
do {
    let start = DispatchTime.now().uptimeNanoseconds
    var pulled = 0
    while pulled < total {
        let decryptor = try SecretStreamDecryptor(key: decryptKey, header: producer.header, maxChunkLength: chunk)
        for piece in sealed {
            try piece.withUnsafeBytes { try decryptor.pull($0) { plain, _ in sink &+= plain.count } }
            pulled += chunk
        }
        try decryptor.finish()
    }
    pullRate = Double(pulled) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) / 1e9
}
var sha = SHA256Stream()
let shaRate = measure("SHA-256") { for _ in 0..<(total / chunk) { sha.update(UnsafeRawBufferPointer(input)) } }
let blakeKey = try SecureBytes.random(count: 32)
let blakeRate = try measure("BLAKE2b") {
    for _ in 0..<(total / chunk) { sink &+= Int(try KeyedHash.blake2b(UnsafeRawBufferPointer(input), key: blakeKey)[0]) }
}
_ = sha.finalize()

print("vault-bench: \(megabytes) MiB in 64 KiB chunks, one core (sink \(sink & 1))")
for (label, rate) in [("memcpy (reference)", memcpyRate), ("secretstream push", pushRate), ("secretstream pull", pullRate),
                      ("SHA-256 (OpenSSL libcrypto)", shaRate), ("BLAKE2b keyed (libsodium)", blakeRate)] {
    let ratio = rate / memcpyRate
    print("  " + label.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%6.2f GB/s   %.3f x memcpy", rate, ratio))
}
