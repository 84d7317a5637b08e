import Foundation
import Testing

/// `evault identity ...` through the built binary: exact exit codes and messages.
@Suite("evault identity")
struct IdentityCLITests {
    let passphrase = ["EVAULT_PASSPHRASE": "a passphrase for tests"]

    func newIdentity(_ name: String, in scratch: Scratch) throws -> CLI.Result {
        let result = try CLI.run(["identity", "new", name, "--out", scratch.path, "--kdf", "interactive"], environment: passphrase)
        #expect(result.status == 0, "\(result.stderr)")
        return result
    }

    @Test func newWritesBothFilesAndPrintsAReadableFingerprint() throws {
        let scratch = try Scratch()
        let result = try newIdentity("amina", in: scratch)
        #expect(try scratch.list() == ["amina.identity", "amina.pub"])
        let fingerprint = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("Fingerprint: ") })
        #expect(fingerprint.count == "Fingerprint: ".count + 39)
        let show = try CLI.run(["identity", "show", scratch.file("amina.pub")])
        #expect(show.status == 0)
        #expect(show.stdout.contains(String(fingerprint.dropFirst("Fingerprint: ".count))))
    }

    @Test func showJSONNamesTheIdentityById() throws {
        let scratch = try Scratch()
        _ = try newIdentity("bruno", in: scratch)
        for file in ["bruno.pub", "bruno.identity"] {
            let result = try CLI.run(["identity", "show", scratch.file(file), "--json"])
            #expect(result.status == 0)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect((json["id"] as? String)?.count == 64)
            #expect(json["name"] as? String == "bruno")
            #expect(json["type"] as? String == (file.hasSuffix(".pub") ? "public-identity" : "secret-identity"))
        }
    }

    @Test func newRefusesToOverwrite() throws {
        let scratch = try Scratch()
        _ = try newIdentity("chen", in: scratch)
        let before = try scratch.read("chen.identity")
        let result = try CLI.run(["identity", "new", "chen", "--out", scratch.path, "--kdf", "interactive"], environment: passphrase)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("evault: error: \(scratch.file("chen.identity")) already exists"))
        #expect(try scratch.read("chen.identity") == before)
    }

    @Test func passwdFromScriptsChangesThePassphrase() throws {
        let scratch = try Scratch()
        _ = try newIdentity("dede", in: scratch)
        try scratch.write(Data("the new passphrase\n".utf8), "new.txt")
        chmod(scratch.file("new.txt"), 0o600)  // passphrase files readable by others are refused
        let changed = try CLI.run(["identity", "passwd", scratch.file("dede.identity"), "--new-passphrase-file", scratch.file("new.txt")],
                                  environment: passphrase)
        #expect(changed.status == 0, "\(changed.stderr)")
        // The old passphrase no longer opens it; the new one does (trailing newline stripped).
        let withOld = try CLI.run(["identity", "passwd", scratch.file("dede.identity")],
                                  environment: passphrase.merging(["EVAULT_NEW_PASSPHRASE": "yet another passphrase"]) { $1 })
        #expect(withOld.status == 2)
        let withNew = try CLI.run(["identity", "passwd", scratch.file("dede.identity"), "--passphrase-file", scratch.file("new.txt")],
                                  environment: ["EVAULT_NEW_PASSPHRASE": "yet another passphrase"])
        #expect(withNew.status == 0, "\(withNew.stderr)")
        #expect(try scratch.list() == ["dede.identity", "dede.pub", "new.txt"])
    }

    @Test func wrongPassphraseLeavesTheFileUntouched() throws {
        let scratch = try Scratch()
        _ = try newIdentity("eli", in: scratch)
        let before = try scratch.read("eli.identity")
        let result = try CLI.run(["identity", "passwd", scratch.file("eli.identity")],
                                 environment: ["EVAULT_PASSPHRASE": "not the right one", "EVAULT_NEW_PASSPHRASE": "some new passphrase"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("evault: error: \(scratch.file("eli.identity")): wrong passphrase"))
        #expect(result.stderr.contains("evault: hint: "))
        #expect(try scratch.read("eli.identity") == before)
    }

    @Test func tamperedAndTruncatedFilesAreClearErrors() throws {
        let scratch = try Scratch()
        _ = try newIdentity("fara", in: scratch)
        var pub = try scratch.read("fara.pub")
        pub[pub.count / 2] ^= 0x10
        try scratch.write(pub, "tampered.pub")
        let tampered = try CLI.run(["identity", "show", scratch.file("tampered.pub")])
        #expect(tampered.status == 2)
        #expect(tampered.stderr.hasPrefix("evault: error: \(scratch.file("tampered.pub"))"))
        let identity = try scratch.read("fara.identity")
        try scratch.write(identity.prefix(identity.count - 10), "truncated.identity")
        let truncated = try CLI.run(["identity", "show", scratch.file("truncated.identity")])
        #expect(truncated.status == 2)
        #expect(truncated.stderr.contains("truncated"))
        var future = identity
        future[5] = 9
        try scratch.write(future, "future.identity")
        let unknownVersion = try CLI.run(["identity", "show", scratch.file("future.identity")])
        #expect(unknownVersion.status == 2)
        #expect(unknownVersion.stderr.contains("format version 9"))
        let missing = try CLI.run(["identity", "show", scratch.file("nobody.pub")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("does not exist"))
    }

    @Test func noTerminalAndNoPassphraseIsAnErrorNotAHang() throws {
        let scratch = try Scratch()
        let result = try CLI.run(["identity", "new", "gus", "--out", scratch.path, "--kdf", "interactive"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no terminal"))
        #expect(result.stderr.contains("evault: hint: set EVAULT_PASSPHRASE"))
        #expect(try scratch.list().isEmpty)
    }

    @Test func shortPassphrasesAreRefusedWhenSet() throws {
        let scratch = try Scratch()
        let result = try CLI.run(["identity", "new", "hana", "--out", scratch.path, "--kdf", "interactive"],
                                 environment: ["EVAULT_PASSPHRASE": "short"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("too short"))
        #expect(try scratch.list().isEmpty)
    }

    @Test func usageErrorsExit64() throws {
        let result = try CLI.run(["identity", "new"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("evault: error: "))
        let unknown = try CLI.run(["identity", "new", "x", "--out", "/tmp", "--kdf", "weak"])
        #expect(unknown.status == 64)
    }
}
