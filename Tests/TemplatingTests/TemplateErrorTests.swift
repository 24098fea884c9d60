import Foundation
import XCTest
@testable import Templating

/// Bad templates and hostile input: clear errors with a location, never a crash or a hang.
final class TemplateErrorTests: XCTestCase {
    private func location(_ error: Error) -> SourceLocation? { (error as? TemplateError)?.location }

    func test_unclosedVariable_throwsSyntaxAtItsLineAndColumn() {
        XCTAssertThrowsError(try Template(source: "line one\n  {{ x", name: "t.jinja")) { error in
            guard case .syntax(let where_, _)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(where_, SourceLocation(template: "t.jinja", line: 2, column: 3))
            XCTAssertTrue("\(error)".hasPrefix("t.jinja:2:3: syntax error"), "\(error)")
        }
    }

    func test_unclosedBlock_throwsSyntaxNamingTheMissingTags() {
        XCTAssertThrowsError(try Template(source: "{% for x in xs %}\n{% if x %}y{% endfor %}")) { error in
            guard case .syntax(_, let message)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("'endif'"), message)
        }
    }

    func test_columnsCountCharactersNotBytes() {
        XCTAssertThrowsError(try Template(source: "日本語 {{ x|nope }}")) { error in
            XCTAssertEqual(location(error)?.column, 10, "日本語 and a space are four characters, nine UTF-8 bytes")
        }
    }

    func test_unknownFilter_throwsAtParseNamingTheFilterAndTheSupportedOnes() {
        XCTAssertThrowsError(try Template(source: "{{ x|strip }}")) { error in
            XCTAssertEqual(error as? TemplateError, .unknownFilter(SourceLocation(template: "chat_template", line: 1, column: 6), name: "strip"))
            XCTAssertTrue("\(error)".contains("trim"), "the message lists the supported filters")
        }
    }

    func test_unknownTag_throwsNamingTheTag() {
        XCTAssertThrowsError(try Template(source: "{% include 'other.jinja' %}")) { error in
            guard case .unknownTag(_, let tag)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(tag, "include")
        }
    }

    func test_wrongArgumentTypesAndCounts_throwRuntimeNamingTheFilter() {
        for source in ["{{ 'a'|indent(1, 2, 3, 4) }}", "{{ [1]|join(sep=',') }}", "{{ 'a'|round }}", "{{ 'a'.split(1) }}", "{{ range('3') }}"] {
            XCTAssertThrowsError(try render(source), source) { error in
                guard case .runtime(_, let message)? = error as? TemplateError else { return XCTFail("\(source): \(error)") }
                XCTAssertFalse(message.isEmpty)
            }
        }
    }

    func test_unboundedRecursion_hitsTheCallDepthCap() {
        XCTAssertThrowsError(try render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")) { error in
            guard case .limitExceeded(_, let limit, let value)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(limit, "macro call depth")
            XCTAssertEqual(value, RenderLimits().maxCallDepth)
        }
    }

    func test_nestedHugeLoops_hitTheIterationCap() {
        var limits = RenderLimits()
        limits.maxLoopIterations = 10_000
        XCTAssertThrowsError(try render("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", limits: limits)) { error in
            guard case .limitExceeded(_, let limit, 10_000)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(limit, "loop iterations")
        }
    }

    func test_doublingString_hitsTheSizeCapBeforeUsingMemory() {
        var limits = RenderLimits()
        limits.maxOutputBytes = 1 << 20
        let source = "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
        XCTAssertThrowsError(try render(source, limits: limits)) { error in
            guard case .limitExceeded(_, _, 1_048_576)? = error as? TemplateError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try render("{{ 'x' * 1000000000000 }}")) { error in
            guard case .limitExceeded? = error as? TemplateError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try render("{{ [1] * 1000000000000 }}")) { error in
            guard case .limitExceeded? = error as? TemplateError else { return XCTFail("\(error)") }
        }
    }

    func test_outputCap_stopsALoopThatPrintsForever() {
        var limits = RenderLimits()
        limits.maxOutputBytes = 10_000
        XCTAssertThrowsError(try render("{% for i in range(100000) %}0123456789{% endfor %}", limits: limits)) { error in
            guard case .limitExceeded(_, let limit, _)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(limit, "output size in bytes")
        }
    }

    func test_deepNesting_throwsALimitInsteadOfOverflowingTheStack() {
        let depth = 100_000
        let hostile = [
            "{{ " + String(repeating: "(", count: depth) + "1" + String(repeating: ")", count: depth) + " }}",
            "{{ " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + " }}",
            "{{ " + String(repeating: "not ", count: depth) + "x }}",
            "{{ " + String(repeating: "-", count: depth) + "1 }}",
            String(repeating: "{% if true %}", count: depth) + String(repeating: "{% endif %}", count: depth),
            "{{ x" + String(repeating: "|upper", count: depth) + " }}",
        ]
        for source in hostile {
            XCTAssertThrowsError(try Template(source: source), String(source.prefix(20))) { error in
                guard case .limitExceeded(_, _, Parser.maxNesting)? = error as? TemplateError else {
                    return XCTFail("\(source.prefix(20)): \(error)")
                }
            }
        }
    }

    /// The deepest template the caps allow (expressions nested to the parser's limit inside a
    /// macro recursing to the call-depth cap) renders or stops with a limit error on a thread
    /// with a 512 KiB stack, the size of a secondary thread's default stack on macOS.
    func test_deepestAllowedTemplates_onASmallStack_stopWithALimitError() {
        let blocks = 14
        let sources = [
            // Recursion stops at the call-depth cap.
            "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(1000) }}",
            // Blocks and expressions nested inside each recursive call stop at the evaluation-depth cap.
            "{% macro f(n) %}" + String(repeating: "{% if true %}", count: blocks) + "{% if n > 0 %}{{ (f(n - 1)|string|trim ~ 'x')|upper }}{% endif %}"
                + String(repeating: "{% endif %}", count: blocks) + "{% endmacro %}{{ f(1000) }}",
        ]
        for source in sources {
            let finished = expectation(description: "render finished")
            let outcome = UnsafeSendableBox("")
            let thread = Thread {
                do {
                    outcome.value = try render(source)
                } catch {
                    outcome.value = "\(error)"
                }
                finished.fulfill()
            }
            thread.stackSize = 512 << 10
            thread.start()
            wait(for: [finished], timeout: 60)
            XCTAssertTrue(outcome.value.contains("exceeded the cap"), outcome.value)
        }
    }

    func test_hostileJSON_deepNestingAndGarbage_throwInvalidJSONWithOffset() {
        XCTAssertThrowsError(try Value.parseJSON(String(repeating: "[", count: 100_000))) { error in
            guard case .invalidJSON(let offset, _)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(offset, 512)
        }
        for bad in ["", "{", "{\"a\" 1}", "[1,]", "\"\\x\"", "tru", "01", "{\"a\":1} x", "\"a\nb\""] {
            XCTAssertThrowsError(try Value.parseJSON(bad), bad) { error in
                guard case .invalidJSON? = error as? TemplateError else { return XCTFail("\(bad): \(error)") }
            }
        }
    }

    func test_raiseException_throwsRaisedWithTheMessageAndLocation() {
        XCTAssertThrowsError(try render("x\n{{ raise_exception('Roles must alternate') }}")) { error in
            guard case .raised(let message, let where_)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(message, "Roles must alternate")
            XCTAssertEqual(where_.line, 2)
        }
    }

    func test_nonDictMessage_throwsInvalidChat() throws {
        let chat = try ChatTemplate(source: "{{ messages }}", name: "m")
        XCTAssertThrowsError(try chat.render(messages: ["just a string"])) { error in
            guard case .invalidChat(let name, let message)? = error as? TemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "m")
            XCTAssertTrue(message.contains("message 0"))
        }
    }
}
