import Foundation
import Training
import XCTest

/// `--help` of every command, `--version` and the shell completion scripts.
final class HelpCommandLineTests: XCTestCase {
    /// `instruct ARGS` with the terminal width `columns` (ArgumentParser reads COLUMNS).
    func run(_ args: [String], columns: Int) throws -> String {
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = "\(columns)"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "instruct \(args.joined(separator: " "))")
        return String(decoding: data, as: UTF8.self)
    }

    /// The subcommand names listed in a help text.
    func subcommands(_ help: String) -> [String] {
        guard let start = help.range(of: "SUBCOMMANDS:\n") else { return [] }
        var names: [String] = []
        for line in help[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { if names.isEmpty { continue } else { break } }
            let name = line.drop(while: { $0 == " " }).prefix(while: { $0 != " " })
            if line.hasPrefix("  ") && !name.isEmpty { names.append(String(name)) }
        }
        return names
    }

    func test_help_everyCommandAt80Columns_keepsEveryExampleLineWhole() throws {
        var commands: [[String]] = [[]]
        var checked = 0
        var i = 0
        while i < commands.count {
            let path = commands[i]
            i += 1
            // Wide: nothing is wrapped, so each line is as the command wrote it.
            let wide = try run(path + ["--help"], columns: 400)
            let narrow = Set(try run(path + ["--help"], columns: 80).split(separator: "\n").map(String.init))
            commands += subcommands(wide).map { path + [$0] }
            // The overview (abstract and discussion) ends where USAGE starts.
            let overview = wide.components(separatedBy: "\nUSAGE:")[0].split(separator: "\n").map(String.init)
            var continued = false
            for line in overview {
                let text = line.drop(while: { $0 == " " })
                let example = line.hasPrefix("  ") && (["instruct ", "mpirun ", "scripts/", "echo ", "printf "].contains { text.hasPrefix($0) } || continued)
                continued = example && line.hasSuffix("\\")
                guard example else { continue }
                checked += 1
                XCTAssertTrue(narrow.contains(line), "`instruct \(path.joined(separator: " ")) --help` at 80 columns cuts: \(line)")
                XCTAssertLessThan(line.count, 80, line)
            }
        }
        XCTAssertGreaterThan(commands.count, 20, "commands found: \(commands)")
        XCTAssertGreaterThan(checked, 60, "example lines checked")
    }

    func test_version_isInstructKitsVersion() throws {
        XCTAssertEqual(try run(["--version"], columns: 80), "instruct \(InstructKitVersion.current)\n")
    }

    func test_completionScripts_coverTheCommands() throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try run(["--generate-completion-script", shell], columns: 80)
            // fish spells options `-l 'resume'`, the others `--resume`.
            for word in ["instruct", "train", "generate", shell == "fish" ? "-l 'resume'" : "--resume"] {
                XCTAssertTrue(script.contains(word), "\(shell) completion lacks \(word)")
            }
        }
    }
}
