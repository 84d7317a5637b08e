import Foundation
import GRDB
import Testing

/// A `vault.sqlite` swapped for a foreign, damaged or newer database (issue 7,
/// THREATS.md 53): every command refuses it with an error naming it, exits
/// non-zero, never crashes or hangs, and a command that only reads never changes
/// a byte of it.
@Suite("Hostile vault.sqlite (CLI)", .serialized)
struct HostileDatabaseCLITests {
    typealias Setup = VaultCLITests.Setup

    /// A real vault with one document, made once; each trial restores it first.
    final class Pristine: @unchecked Sendable {
        let setup: Setup
        let copy: String
        let input: String
        /// What each read command prints on the undamaged vault.
        let baseline: [String: String]
        let blobCount: Int

        init() throws {
            setup = try Setup()
            input = try setup.file("input.txt", Array("a page of testimony".utf8))
            try setup.ok(["add", "REF-1", input, "--kind", "testimony", "--title", "t"], as: "lawyer")
            copy = setup.scratch.file("pristine")
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            for name in ["vault", "state"] {
                try FileManager.default.copyItem(atPath: setup.scratch.file(name), toPath: "\(copy)/\(name)")
            }
            var baseline: [String: String] = [:]
            for command in Self.readCommands {
                baseline[command.name] = try setup.ok(command.arguments, as: command.actor).stdout
            }
            self.baseline = baseline
            blobCount = try FileManager.default.contentsOfDirectory(atPath: setup.scratch.file("vault/blobs")).count
        }

        /// Puts the vault and this machine's memory of it back as they were, then
        /// `vault.sqlite` (and `-wal`) as given.
        func restore(database: Data, wal: Data? = nil) throws {
            let manager = FileManager.default
            for name in ["vault", "state"] {
                try? manager.removeItem(atPath: setup.scratch.file(name))
                try manager.copyItem(atPath: "\(copy)/\(name)", toPath: setup.scratch.file(name))
            }
            for suffix in ["-wal", "-shm"] { try? manager.removeItem(atPath: setup.scratch.file("vault/vault.sqlite\(suffix)")) }
            try setup.scratch.write(database, "vault/vault.sqlite")
            if let wal { try setup.scratch.write(wal, "vault/vault.sqlite-wal") }
        }

        var database: Data { get throws { try Data(contentsOf: URL(fileURLWithPath: "\(copy)/vault/vault.sqlite")) } }

        struct Command {
            let name: String
            let arguments: [String]
            let actor: String?
        }
        static let readCommands = [
            Command(name: "verify", arguments: ["verify"], actor: nil),
            Command(name: "list", arguments: ["list", "REF-1"], actor: "lawyer"),
            Command(name: "log", arguments: ["log"], actor: nil),
        ]
        var addCommand: Command { Command(name: "add", arguments: ["add", "REF-1", input, "--kind", "other"], actor: "lawyer") }
    }

    static let pristine = Result { try Pristine() }

    /// Runs every command against the database as given and checks what every
    /// command owes a hostile database. Returns the exit status per command.
    @discardableResult
    static func trial(_ label: String, database: Data, wal: Data? = nil, mustRefuse: Bool, verifyMustRefuse: Bool = false,
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Int32] {
        let vault = try pristine.get()
        var statuses: [String: Int32] = [:]
        for command in Pristine.readCommands + [vault.addCommand] {
            try vault.restore(database: database, wal: wal)
            let result = try CLI.run(command.arguments, environment: Setup.environment(command.actor, vault.setup.scratch), timeout: 60)
            statuses[command.name] = result.status
            let context = "\(label), evault \(command.name): exit \(result.status), \(result.stderr.prefix(300))"
            #expect(!result.timedOut, "hang: \(context)", sourceLocation: sourceLocation)
            #expect(!result.signalled, "crash: \(context)", sourceLocation: sourceLocation)
            let after = try vault.setup.scratch.read("vault/vault.sqlite")
            let walAfter = try? vault.setup.scratch.read("vault/vault.sqlite-wal")
            if result.status == 0 {
                #expect(!mustRefuse && !(verifyMustRefuse && command.name == "verify"), "accepted: \(context)", sourceLocation: sourceLocation)
                // Damage that a command did not meet must not change what it shows.
                if let expected = vault.baseline[command.name] {
                    #expect(result.stdout == expected, "wrong output from a damaged database: \(context)", sourceLocation: sourceLocation)
                }
            } else {
                // verify reports what it found on stdout (and exits 4); the others fail with one error.
                let report = command.name == "verify" && result.stderr.isEmpty ? result.stdout : result.stderr
                #expect(report.hasPrefix(command.name == "verify" && result.stderr.isEmpty ? "Vault" : "evault: error: "),
                        "no named error: \(context) \(report.prefix(300))", sourceLocation: sourceLocation)
                #expect(["vault.sqlite", "ledger", "event", "database"].contains { report.contains($0) },
                        "the error does not name the database: \(context) \(report.prefix(300))", sourceLocation: sourceLocation)
                #expect(result.status != 1 || !mustRefuse, "a refused database is an integrity failure (exit 4): \(context)",
                        sourceLocation: sourceLocation)
                // Nothing half-written: no blob left behind by a refused add.
                let blobs = try FileManager.default.contentsOfDirectory(atPath: vault.setup.scratch.file("vault/blobs")).count
                #expect(blobs == vault.blobCount, "a refused \(command.name) left a blob: \(context)", sourceLocation: sourceLocation)
            }
            if command.name != "add" || result.status != 0 {
                // Reading never writes; a refused write writes nothing either.
                #expect(after == database, "vault.sqlite changed: \(context)", sourceLocation: sourceLocation)
                if let wal, command.name != "add" {
                    #expect(walAfter == wal, "vault.sqlite-wal changed: \(context)", sourceLocation: sourceLocation)
                }
            }
        }
        return statuses
    }

    // MARK: - foreign databases

    /// SQLite's own corrupt images (Fixtures/sqlite-corrupt/README.md).
    static let corruptImages: [String] = {
        guard let folder = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/sqlite-corrupt"),
              let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        return names.filter { $0.hasSuffix(".db") }.sorted().map { folder.appendingPathComponent($0).path }
    }()

    @Test("the 34 corrupt images from SQLite's test suite, as they are and marked WAL (under .ci/run both, otherwise one of the two in turn), are refused by verify, list, log and add")
    func sqliteCorruptImages() throws {
        #expect(Self.corruptImages.count == 34)
        let both = ProcessInfo.processInfo.environment["EVAULT_TESTS_EXHAUSTIVE"] != nil
        for (index, path) in Self.corruptImages.enumerated() {
            let image = try Data(contentsOf: URL(fileURLWithPath: path))
            let name = URL(fileURLWithPath: path).lastPathComponent
            if both || index % 2 == 0 { try Self.trial(name, database: image, mustRefuse: true) }
            // Marked WAL (header bytes 18-19), the image gets past the header check
            // to SQLite's parser and the schema recognition.
            var wal = image
            wal[18] = 2
            wal[19] = 2
            if both || index % 2 == 1 { try Self.trial("\(name) marked WAL", database: wal, mustRefuse: true) }
        }
    }

    @Test("not SQLite at all: empty, short, text, another program's SQLite database")
    func notEvaultDatabases() throws {
        try Self.trial("empty file", database: Data(), mustRefuse: true)
        try Self.trial("a header cut short", database: try Self.pristine.get().database.prefix(60), mustRefuse: true)
        try Self.trial("text", database: Data(String(repeating: "not a database\n", count: 400).utf8), mustRefuse: true)
        try Self.trial("another program's WAL database", database: try Self.makeDatabase { db in
            try db.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('x')")
        }, mustRefuse: true)
    }

    @Test("an evault schema with a step this evault does not know is refused as newer")
    func newerSchema() throws {
        let newer = try Self.altered { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v2-from-the-future')")
        }
        try Self.trial("newer schema", database: newer, mustRefuse: true)
        let vault = try Self.pristine.get()
        try vault.restore(database: newer)
        let result = try CLI.run(["log"], environment: Setup.environment(nil, vault.setup.scratch))
        #expect(result.status == 4)
        #expect(result.stderr.contains("was written by a newer evault"))
        #expect(result.stderr.contains("v2-from-the-future"))
    }

    @Test("an evault schema with a planted trigger, view or table, or a dropped index, is refused")
    func alteredSchema() throws {
        let alterations = [
            "trigger": "CREATE TRIGGER spy AFTER INSERT ON events BEGIN DELETE FROM events WHERE seq = new.seq; END",
            "view": "CREATE VIEW everything AS SELECT * FROM events",
            "table": "CREATE TABLE extra (x)",
            "dropped index": "DROP INDEX documents_by_case",
            "altered table": "ALTER TABLE documents ADD COLUMN note TEXT",
        ]
        for (label, sql) in alterations.sorted(by: { $0.key < $1.key }) {
            try Self.trial(label, database: try Self.altered { try $0.execute(sql: sql) }, mustRefuse: true)
        }
        let vault = try Self.pristine.get()
        try vault.restore(database: try Self.altered { try $0.execute(sql: alterations["trigger"]!) })
        let result = try CLI.run(["log"], environment: Setup.environment(nil, vault.setup.scratch))
        #expect(result.stderr.contains("unexpected: spy"))
    }

    @Test("a planted rollback journal beside the database is refused and never rolled back into it")
    func plantedJournal() throws {
        let vault = try Self.pristine.get()
        let database = try vault.database
        for command in Pristine.readCommands + [vault.addCommand] {
            try vault.restore(database: database)
            try vault.setup.scratch.write(Data(repeating: 0xAB, count: 4096), "vault/vault.sqlite-journal")
            let result = try CLI.run(command.arguments, environment: Setup.environment(command.actor, vault.setup.scratch))
            #expect(result.status == 4, "\(command.name): \(result.stderr)")
            #expect(result.stderr.contains("vault.sqlite-journal"))
            #expect(try vault.setup.scratch.read("vault/vault.sqlite") == database)
        }
    }

    // MARK: - a real vault.sqlite, damaged

    static let pageSize = 4096

    @Test("pages of a real vault.sqlite (every one under .ci/run, every fourth otherwise), flipped, zeroed, or cut off: refused by name or shown right, never crashed, never changed by a read")
    func damagedPages() throws {
        let database = try Self.pristine.get().database
        let pages = database.count / Self.pageSize
        #expect(pages >= 10)
        var refused = 0, trials = 0
        // The README's test command tries every fourth page (and the last); CI (.ci/run) every one.
        let step = ProcessInfo.processInfo.environment["EVAULT_TESTS_EXHAUSTIVE"] == nil ? 4 : 1
        for page in 0..<pages where page % step == 0 || page == pages - 1 {
            let start = page * Self.pageSize
            // Flip one byte near the start of the page (a b-tree page header, or the
            // database header on page 1), and one in the middle (cell content).
            for offset in [page == 0 ? 28 : 3, Self.pageSize / 2 + page] {
                var flipped = database
                flipped[start + offset] ^= 0x5A
                let statuses = try Self.trial("page \(page + 1) byte \(offset) flipped", database: flipped, mustRefuse: false)
                trials += 1
                if statuses.values.contains(where: { $0 != 0 }) { refused += 1 }
            }
            var zeroed = database
            zeroed.replaceSubrange(start..<(start + Self.pageSize), with: Data(count: Self.pageSize))
            try Self.trial("page \(page + 1) zeroed", database: zeroed, mustRefuse: page == 0, verifyMustRefuse: true)
            // Cut at this page boundary: the pages from here on are gone.
            try Self.trial("cut to \(page) pages", database: database.prefix(start), mustRefuse: page == 0, verifyMustRefuse: true)
            trials += 2
        }
        print("damaged vault.sqlite: \(pages) pages (every \(step == 1 ? "one" : "fourth")), \(trials) damaged copies, each tried with verify, list, log and add; \(refused) of \(trials / 2) flips refused by at least one command")
    }

    @Test("a damaged WAL header or frame: refused or shown right, never crashed, never changed by a read")
    func damagedWAL() throws {
        let (database, wal) = try Self.databaseWithWAL()
        #expect(wal.count > 32 + 24)
        try Self.trial("intact WAL", database: database, wal: wal, mustRefuse: false)
        var header = wal
        header[0] ^= 0xFF  // magic
        try Self.trial("WAL magic", database: database, wal: header, mustRefuse: false)
        var checksum = wal
        checksum[24] ^= 0x01  // header checksum
        try Self.trial("WAL header checksum", database: database, wal: checksum, mustRefuse: false)
        var frame = wal
        frame[32 + 24 + 100] ^= 0x01  // first frame's page content
        try Self.trial("WAL frame content", database: database, wal: frame, mustRefuse: false)
        try Self.trial("WAL cut inside its first frame", database: database, wal: wal.prefix(32 + 24 + 1000), mustRefuse: false)
        try Self.trial("WAL zeroed header", database: database, wal: Data(count: 32) + wal.dropFirst(32), mustRefuse: false)
    }

    // MARK: - helpers

    /// A WAL-mode SQLite database made by `body`, as bytes.
    static func makeDatabase(_ body: (Database) throws -> Void) throws -> Data {
        let scratch = try Scratch()
        let queue = try DatabaseQueue(path: scratch.file("db.sqlite"))
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try body(db)
        }
        try queue.close()
        return try scratch.read("db.sqlite")
    }

    /// The pristine vault's database with `body` applied.
    static func altered(_ body: (Database) throws -> Void) throws -> Data {
        let scratch = try Scratch()
        try scratch.write(try pristine.get().database, "db.sqlite")
        let queue = try DatabaseQueue(path: scratch.file("db.sqlite"))
        try queue.writeWithoutTransaction { try body($0) }
        try queue.close()
        return try scratch.read("db.sqlite")
    }

    /// The pristine database and a WAL holding one committed transaction that
    /// rewrites pages without changing any value (as a crash before checkpoint leaves it).
    static func databaseWithWAL() throws -> (Data, Data) {
        let scratch = try Scratch()
        try scratch.write(try pristine.get().database, "db.sqlite")
        let queue = try DatabaseQueue(path: scratch.file("db.sqlite"))
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            // A change and its undo in one transaction: the pages are rewritten, the values kept.
            try db.inTransaction {
                try db.execute(sql: "UPDATE events SET seq = seq + 1000000")
                try db.execute(sql: "UPDATE events SET seq = seq - 1000000")
                try db.execute(sql: "UPDATE documents SET added = added + 1")
                try db.execute(sql: "UPDATE documents SET added = added - 1")
                return .commit
            }
        }
        // Copied while the connection is open: closing would checkpoint the WAL away.
        let pair = (try scratch.read("db.sqlite"), try scratch.read("db.sqlite-wal"))
        try queue.close()
        return pair
    }
}

/// THREATS.md 53, found by the second review: `vault.sqlite` swapped, back and
/// forth, for a copy with a planted table while adds run. Every write transaction
/// re-checks the file it writes, so no add commits into the planted copy as
/// such. What SQLite cannot be stopped from doing is apply the WAL (a file bound
/// to the path, not to the database file) to whichever file is at the path:
/// then an acknowledged add can end up beside the planted table (SECURITY.md,
/// "Known limits"), and the checkpoint can even rewrite the planted copy's
/// schema pages with the vault's. What must hold all the same: no crash, the
/// planted copy shows no event the vault never had, and an acknowledged add is
/// never lost silently - the vault lists it, or refuses itself as rolled back.
@Suite("vault.sqlite swapped during writes (CLI)")
struct SwappedDatabaseCLITests {
    typealias Setup = VaultCLITests.Setup

    @Test("a database swapped in during adds shows nothing forged, and no acknowledged add is lost silently")
    func swapDuringAdds() throws {
        let setup = try Setup()
        let input = try setup.file("page.txt", Array("one page".utf8))
        let vault = setup.scratch.file("vault")
        let good = setup.scratch.file("good.sqlite"), planted = setup.scratch.file("planted.sqlite")
        try FileManager.default.copyItem(atPath: "\(vault)/vault.sqlite", toPath: good)
        try FileManager.default.copyItem(atPath: good, toPath: planted)
        let queue = try DatabaseQueue(path: planted)
        try queue.write { try $0.execute(sql: "CREATE TABLE planted (x)") }
        try queue.close()
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: planted + suffix) }

        // Swap the two inodes in at the vault path (link, then rename over), as fast as possible.
        let stop = LockedFlag()
        let swapper = Thread {
            var turn = 0
            while !stop.value {
                let source = turn % 2 == 0 ? planted : good
                let staging = "\(vault)/.swap-\(turn % 2)"
                unlink(staging)
                if link(source, staging) == 0 { rename(staging, "\(vault)/vault.sqlite") }
                turn += 1
            }
        }
        swapper.start()
        var acknowledged = 0, refused = 0
        for _ in 0..<12 {
            let result = try setup.run(["add", "REF-1", input, "--kind", "other"], as: "lawyer")
            #expect(!result.signalled && !result.timedOut, "\(result.stderr)")
            if result.status == 0 { acknowledged += 1 } else { refused += 1 }
        }
        stop.set()
        while swapper.isExecuting { usleep(1000) }
        print("swap during adds: \(acknowledged) acknowledged, \(refused) refused")

        // The good file back at the path, with whatever WAL the adds left: every
        // acknowledged add is listed, or the loss is reported, never silent.
        unlink("\(vault)/vault.sqlite")
        #expect(link(good, "\(vault)/vault.sqlite") == 0)
        let goodLog = try setup.run(["log"], as: nil)

        // The planted copy alone (no WAL beside it) is refused; or, where SQLite
        // checkpointed the vault's WAL into it and so rewrote its schema pages with
        // the vault's, it shows nothing but events of the vault's own ledger.
        let plantedVault = setup.scratch.file("planted-vault")
        try FileManager.default.createDirectory(atPath: "\(plantedVault)/blobs", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: planted, toPath: "\(plantedVault)/vault.sqlite")
        let plantedLog = try CLI.run(["log", "--vault", plantedVault], environment: Setup.environment(nil, setup.scratch))
        #expect(!plantedLog.signalled && !plantedLog.timedOut)
        if plantedLog.status == 0 && goodLog.status == 0 {
            // Every commit that was acknowledged is in the vault (checked below), so
            // whatever reached the planted copy is a part of the vault's ledger.
            let vaultEvents = Set(goodLog.stdout.split(separator: "\n"))
            #expect(plantedLog.stdout.split(separator: "\n").allSatisfy { vaultEvents.contains($0) },
                    "the planted database shows events the vault never had: \(plantedLog.stdout.prefix(300))")
        } else if plantedLog.status != 0 {
            #expect(plantedLog.status == 4, "\(plantedLog.stderr)")
        }
        let listed = try setup.run(["list", "REF-1", "--json"], as: "lawyer")
        if listed.status == 0 {
            let documents = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
            #expect(documents.count >= acknowledged, "acknowledged adds missing without a word")
            #expect(try setup.run(["verify"], as: nil).status == 0)
        } else {
            #expect(listed.status == 4)
            #expect(["rolled back or cut", "unexpected: planted", "differs"].contains { listed.stderr.contains($0) }, "\(listed.stderr)")
        }
    }
}
