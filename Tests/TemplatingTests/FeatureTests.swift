import Foundation
import XCTest
@testable import Templating

/// One row per feature (statement, filter, test, method, global, whitespace rule, error), each
/// a small template whose output or error jinja2 recorded in transformers' environment.
final class FeatureTests: XCTestCase {
    /// Which of our error cases stand for each Python exception the fixtures record.
    private func errorMatches(_ error: Error, python: String) -> Bool {
        guard let e = error as? TemplateError else { return false }
        switch (python, e) {
        case ("TemplateSyntaxError", .syntax), ("TemplateSyntaxError", .unknownTag), ("SyntaxError", .syntax),
            ("TemplateAssertionError", .unknownFilter), ("TemplateAssertionError", .unknownTest),
            ("TemplateRuntimeError", .unknownFilter), ("TemplateRuntimeError", .runtime),
            ("UndefinedError", .runtime), ("TypeError", .runtime), ("ValueError", .runtime), ("ZeroDivisionError", .runtime),
            ("SecurityError", .runtime), ("OverflowError", .limitExceeded), ("RecursionError", .limitExceeded):
            return true
        default:
            return false
        }
    }

    func test_featureRows_everyRow_matchesJinja2() throws {
        let file = try Fixtures.json("features.json")
        guard let rows = file["rows"]?.array else { return XCTFail("features.json has no rows") }
        XCTAssertGreaterThanOrEqual(rows.count, 150)
        for row in rows {
            guard let name = row["name"]?.string, let source = row["template"]?.string else { return XCTFail("malformed row") }
            let result: Rendering
            do {
                result = try Template(source: source, name: name).render((row["context"] ?? [:]).context, options: Fixtures.options)
            } catch {
                if let raised = row["raised"]?.string {
                    guard case TemplateError.raised(let message, _) = error else {
                        XCTFail("\(name): expected raise_exception(\(raised)), got \(error)")
                        continue
                    }
                    XCTAssertEqual(message, raised, name)
                } else if let python = row["error"]?.string {
                    XCTAssertTrue(errorMatches(error, python: python), "\(name): jinja2 raised \(python), we threw \(error)")
                } else {
                    XCTFail("\(name): jinja2 renders \(row["expected"] ?? .none), we threw \(error)")
                }
                continue
            }
            guard let expected = row["expected"]?.string else {
                XCTFail("\(name): jinja2 fails with \(row["error"] ?? row["raised"] ?? .none), we rendered \(result.text.debugDescription)")
                continue
            }
            XCTAssertEqual(result.text, expected, name)
            if let spans = row["generation"]?.array {
                XCTAssertEqual(result.generationSpans.map { Value.array([.int($0.scalars.lowerBound), .int($0.scalars.upperBound)]) }, spans, name)
            }
        }
    }

    func test_forLoopSet_doesNotLeakButNamespaceDoes() throws {
        let out = try render("{% set x = 1 %}{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set x = x + i %}{% set ns.x = ns.x + i %}{% endfor %}{{ x }} {{ ns.x }}")
        XCTAssertEqual(out, "1 4")
    }

    func test_ifBlockSet_isVisibleAfterTheBlock() throws {
        XCTAssertEqual(try render("{% if true %}{% set y = 'in' %}{% endif %}{{ y }}"), "in")
    }

    func test_floatAndBoolPrinting_likePython() throws {
        XCTAssertEqual(try render("{{ 1.0 }} {{ 3 / 2 }} {{ 4 / 2 }} {{ true }} {{ none }}"), "1.0 1.5 2.0 True None")
    }

    func test_dictPrinting_keepsInsertionOrderAndPythonRepr() throws {
        let message = try Value.parseJSON(#"{"role": "tool", "content": {"z": 1, "a": [true, null, "it's"]}}"#)
        XCTAssertEqual(try render("{{ m.content }}", ["m": message]), #"{'z': 1, 'a': [True, None, "it's"]}"#)
        XCTAssertEqual(try render("{{ m.content|tojson }}", ["m": message]), #"{"z": 1, "a": [true, null, "it's"]}"#)
    }

    func test_strftimeNow_usesInjectedClock() throws {
        XCTAssertEqual(try render("{{ strftime_now('%d %b %Y %H:%M') }}"), "26 Jul 2024 14:05")
    }

    func test_unsupportedStrftimeDirective_throwsUnsupported() {
        XCTAssertThrowsError(try render("{{ strftime_now('%U') }}")) { error in
            guard case .unsupported(_, let feature)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertTrue(feature.contains("%U"))
        }
    }

    func test_customSwiftFunction_isCallable() throws {
        let shout = TemplateFunction(name: "shout") { args in .string(PythonFormat.str(args.positional.first ?? .none).uppercased() + "!") }
        XCTAssertEqual(try render("{{ shout('hi') }}", ["shout": .function(shout)]), "HI!")
    }

    func test_unsupportedStringMethod_throwsNamingIt() {
        XCTAssertThrowsError(try render("{{ 'a'.zfill(3) }}")) { error in
            guard case .unsupported(_, let feature)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertTrue(feature.contains("zfill"))
        }
    }

    func test_unsupportedGlobal_throwsNamingIt() {
        XCTAssertThrowsError(try render("{{ cycler('a', 'b') }}")) { error in
            guard case .unsupported(_, let feature)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertTrue(feature.contains("cycler"))
        }
    }

    func test_recursiveForLoop_throwsUnsupported() {
        XCTAssertThrowsError(try Template(source: "{% for x in xs recursive %}{{ loop(x) }}{% endfor %}")) { error in
            guard case .unsupported? = error as? TemplateError else { return XCTFail("\(error)") }
        }
    }
}
