import Foundation
import Testing
import FuzzHarness

/// The fuzz targets in `swift test`: the committed seed corpus, fresh samples,
/// and every input a fuzzer once crashed on (Docs/FUZZING.md).
@Suite("Fuzz corpus replay")
struct FuzzCorpusTests {
    /// The files under `Corpus/<target>` or `Regressions/<target>`.
    static func inputs(_ folder: String, _ target: FuzzTarget) throws -> [(String, [UInt8])] {
        guard let root = Bundle.module.resourceURL?.appendingPathComponent(folder).appendingPathComponent(target.rawValue),
              let names = try? FileManager.default.contentsOfDirectory(atPath: root.path) else { return [] }
        return try names.filter { !$0.hasPrefix(".") }.sorted().map {
            ($0, Array(try Data(contentsOf: root.appendingPathComponent($0))))
        }
    }

    @Test("every target has a committed seed corpus, and every seed decodes", arguments: FuzzTarget.allCases)
    func seedCorpus(target: FuzzTarget) throws {
        let seeds = try Self.inputs("Corpus", target)
        #expect(!seeds.isEmpty, "no seeds for \(target.rawValue)")
        for (name, bytes) in seeds {
            #expect(target.run(bytes), "seed \(name) of \(target.rawValue) is refused: the corpus no longer matches the format")
        }
    }

    @Test("fresh samples from evault's encoders decode, and one flipped byte of each is handled", arguments: FuzzTarget.allCases)
    func freshSamples(target: FuzzTarget) throws {
        let samples = try #require(try SeedInputs.make()[target])
        for sample in samples {
            #expect(target.run(sample))
            for index in stride(from: 0, to: sample.count, by: max(1, sample.count / 64)) {
                var mutated = sample
                mutated[index] ^= 0x80
                target.run(mutated)  // may refuse; must not trap
            }
            #expect(!target.run(Array(sample.dropLast())), "a truncated \(target.rawValue) was accepted")
        }
    }

    @Test("every input a fuzzer crashed on runs clean now", arguments: FuzzTarget.allCases)
    func regressions(target: FuzzTarget) throws {
        for (_, bytes) in try Self.inputs("Regressions", target) { target.run(bytes) }
    }

    /// `EVAULT_WRITE_SEEDS=DIR swift test --filter writeSeeds` writes fresh seeds
    /// to DIR/<target>/ (how Corpus/ was made); otherwise it does nothing.
    @Test("write seeds when asked", .enabled(if: ProcessInfo.processInfo.environment["EVAULT_WRITE_SEEDS"] != nil))
    func writeSeeds() throws {
        let folder = URL(fileURLWithPath: try #require(ProcessInfo.processInfo.environment["EVAULT_WRITE_SEEDS"]))
        for (target, samples) in try SeedInputs.make() {
            let dir = folder.appendingPathComponent(target.rawValue)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for (index, sample) in samples.enumerated() {
                try Data(sample).write(to: dir.appendingPathComponent(String(format: "seed-%02d", index)))
            }
        }
    }
}
