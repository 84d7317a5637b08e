import Foundation
import Testing

/// Passphrases typed at a real terminal (a pseudo-terminal driven by Python's
/// pexpect): never echoed, asked twice when set. Runs where python3 has pexpect.
@Suite("Terminal passphrases")
struct TerminalTests {
    static let pexpectAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import pexpect"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    @Test("identity new and passwd read passphrases from the terminal without echo", .enabled(if: pexpectAvailable))
    func noEcho() throws {
        let scratch = try Scratch()
        let script = """
            import pexpect, sys
            evault, folder = sys.argv[1], sys.argv[2]
            child = pexpect.spawn(evault, ['identity', 'new', 'tty', '--out', folder, '--kdf', 'interactive'], encoding='utf-8', timeout=30,
                                  env={'PATH': '/usr/bin:/bin'})
            child.expect('Passphrase for tty: '); child.sendline('typed secret words one')
            child.expect('Repeat the passphrase: '); child.sendline('typed secret words two')
            child.expect(pexpect.EOF); child.close()
            mismatch = (child.before or '')
            assert child.exitstatus == 1, child.exitstatus
            assert 'the two passphrases differ' in mismatch, mismatch
            child = pexpect.spawn(evault, ['identity', 'new', 'tty', '--out', folder, '--kdf', 'interactive'], encoding='utf-8', timeout=30,
                                  env={'PATH': '/usr/bin:/bin'})
            child.expect('Passphrase for tty: '); child.sendline('typed secret words one')
            child.expect('Repeat the passphrase: '); child.sendline('typed secret words one')
            child.expect(pexpect.EOF); child.close()
            out = child.before or ''
            assert child.exitstatus == 0, (child.exitstatus, out)
            assert 'typed secret' not in out, 'passphrase echoed'
            child = pexpect.spawn(evault, ['identity', 'passwd', folder + '/tty.identity'], encoding='utf-8', timeout=30, env={'PATH': '/usr/bin:/bin'})
            child.expect('Current passphrase'); child.sendline('typed secret words one')
            child.expect('New passphrase: '); child.sendline('another typed phrase')
            child.expect('Repeat the passphrase: '); child.sendline('another typed phrase')
            child.expect(pexpect.EOF); child.close()
            out = child.before or ''
            assert child.exitstatus == 0, (child.exitstatus, out)
            assert 'typed' not in out and 'another' not in out, 'passphrase echoed'
            print('ok')
            """
        try scratch.write(Data(script.utf8), "drive.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scratch.file("drive.py"), CLI.binary, scratch.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("ok"))
        #expect(try scratch.list().contains("tty.identity"))
    }
}
