import XCTest
@testable import Recipes

/// Anchors, aliases, deep nesting and huge texts are refused before Yams composes the
/// recipe (which expands aliases); `&` and `*` that YAML reads as text are not.
final class RecipeYAMLTests: XCTestCase {
    let minimal = "tokenizer: {path: t.json}\ndata: {datasets: [{path: a.jsonl}]}\n"

    func problem(_ text: String) -> RecipeYAML.Problem? {
        var scanner = RecipeYAML.Scanner(bytes: Array(text.utf8))
        return scanner.firstProblem()
    }

    func test_anchorsAndAliases_anywhereANodeStarts_areFoundWithLineAndColumn() {
        let cases: [(String, Int, Int, String)] = [
            ("a: &x 1\nb: *x\n", 1, 4, "&x"),
            ("a: 1\nb: *x\n", 2, 4, "*x"),
            ("- &x [1, 2]\n", 1, 3, "&x"),
            ("a: [1, *x]\n", 1, 8, "*x"),
            ("a: {k: *x}\n", 1, 8, "*x"),
            ("a: !!str &x text\n", 1, 10, "&x"),
            ("? *x\n: 1\n", 1, 3, "*x"),
            ("&x a: 1\n", 1, 1, "&x"),
            ("a:\n  - - *y\n", 2, 7, "*y"),
            ("--- &x\na: 1\n", 1, 5, "&x"),
            ("a: |\n  text\nb: *x\n", 3, 4, "*x"),
            ("a: \"q\"\nb: *x\n", 2, 4, "*x"),
        ]
        for (text, line, column, name) in cases {
            guard let p = problem(text) else { XCTFail("not found in \(text.debugDescription)"); continue }
            XCTAssertEqual(p.line, line, text.debugDescription)
            XCTAssertEqual(p.column, column, text.debugDescription)
            XCTAssertTrue(p.reason.contains("`\(name)`"), p.reason)
        }
    }

    func test_ampersandsAndStarsThatAreText_areNotRefused() {
        let texts = [
            "a: b & c\n", "a: 2*3\n", "a: x *y\n", "a: \"*quoted\"\n", "a: '&single'' *quote'\n",
            "a: 1 # *comment &here\n", "# *comment\na: 1\n",
            "system: |\n  * a bullet\n  & more\n    *deeper\nb: 2\n",
            "system: >-\n  *folded\n\n  &text\nb: 2\n",
            "a: \"multi\n  *line\"\n", "a: k:*v\n", "a: [b&c, d*e]\n", "url: http://x/*\n",
        ]
        for text in texts { XCTAssertNil(problem(text), text.debugDescription) }
    }

    func test_deepNesting_isRefused_shallowIsNot() {
        XCTAssertNotNil(problem("a: " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "\n"))
        XCTAssertNil(problem("a: [[[[1]]]]\n"))
        var deep = ""
        for i in 0..<80 { deep += String(repeating: " ", count: i) + "k\(i):\n" }
        XCTAssertNotNil(problem(deep))
    }

    func test_decode_billionLaughs_refusedQuicklyNamingTheLine() throws {
        var text = minimal + "x0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        for i in 1...9 { text += "x\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n" }
        let start = Date()
        XCTAssertThrowsError(try Recipe.decode(yaml: text, file: "bomb.yaml")) { error in
            guard case let .unsupportedYAML(source, reason)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(source, "bomb.yaml:3:5")
            XCTAssertTrue(reason.contains("anchor"), reason)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }

    func test_decode_aliasAsMappingKey_refusedBeforeYamsHashesIt() {
        // Yams hashes mapping keys to find duplicates: an aliased key would be hashed expanded.
        let text = minimal + "big: &b [1, 2]\n? *b\n: 1\n"
        XCTAssertThrowsError(try Recipe.decode(yaml: text, file: "k.yaml")) { error in
            guard case .unsupportedYAML? = error as? RecipeError else { return XCTFail("\(error)") }
        }
    }

    func test_override_withAnchorOrAlias_isRefused() {
        XCTAssertThrowsError(try Recipe.decode(yaml: minimal, file: "r.yaml", overrides: ["data.seq_len=*x"])) { error in
            guard case let .unsupportedYAML(source, _)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertTrue(source.contains("override"), source)
        }
    }

    func test_load_directory_isAPlainMessage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-dir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try Recipe.load(path: dir.path)) { error in
            guard case let .unreadableFile(_, reason)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("directory"), reason)
            XCTAssertFalse("\(error)".contains("NSCocoaErrorDomain"), "\(error)")
        }
        XCTAssertThrowsError(try Recipe.load(path: dir.appendingPathComponent("missing.yaml").path)) { error in
            XCTAssertTrue("\(error)".contains("No such file"), "\(error)")
        }
        let binary = dir.appendingPathComponent("bin.yaml")
        try Data([0x61, 0x3A, 0x20, 0xFF, 0xFE, 0x0A]).write(to: binary)
        XCTAssertThrowsError(try Recipe.load(path: binary.path)) { error in
            XCTAssertTrue("\(error)".contains("not UTF-8") && "\(error)".contains("byte 3"), "\(error)")
        }
    }

    func test_emptyOutputDir_isRefused() {
        for o in ["output.dir=", "output.dir=\"\"", "output.dir=\"  \""] {
            XCTAssertThrowsError(try Recipe.decode(yaml: minimal, file: "r.yaml", overrides: [o]), o) { error in
                guard case let .invalidValue(_, key, _)? = error as? RecipeError else { return XCTFail("\(error)") }
                XCTAssertEqual(key, "output.dir")
            }
        }
        XCTAssertThrowsError(try Recipe.decode(yaml: minimal + "output:\n  dir:\n", file: "r.yaml"))
        XCTAssertEqual(try Recipe.decode(yaml: minimal, file: "r.yaml").output.dir, "checkpoints/r")
    }
}
