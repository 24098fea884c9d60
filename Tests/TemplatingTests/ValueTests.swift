import Foundation
import XCTest
@testable import Templating

/// Values: the order-preserving JSON reader, Python's printing of values, conversions.
final class ValueTests: XCTestCase {
    func test_parseJSON_keepsKeyOrderForTojson() throws {
        let value = try Value.parseJSON(#"{"zeta": 1, "alpha": {"y": [1, 2.5, true, null], "b": "é\n"}}"#)
        XCTAssertEqual(value.object?.keys, ["zeta", "alpha"])
        XCTAssertEqual(try render("{{ v|tojson }}", ["v": value]), #"{"zeta": 1, "alpha": {"y": [1, 2.5, true, null], "b": "é\n"}}"#)
    }

    func test_parseJSON_repeatedKey_keepsFirstPositionAndLastValue() throws {
        let value = try Value.parseJSON(#"{"a": 1, "b": 2, "a": 3}"#)
        XCTAssertEqual(value.object?.keys, ["a", "b"])
        XCTAssertEqual(value["a"], .int(3))
    }

    func test_parseJSON_numbersAndEscapes_likePython() throws {
        XCTAssertEqual(try Value.parseJSON("[1, -0, 1.0, 1e2, 9223372036854775807, 9223372036854775808]"),
            [.int(1), .int(0), .double(1), .double(100), .int(.max), .double(9_223_372_036_854_775_808)])
        XCTAssertEqual(try Value.parseJSON(#""\ud83d\ude00 \u00e9 \/ \t""#), .string("😀 é / \t"))
        XCTAssertEqual(try Value.parseJSON(#""\ud800""#), .string("\u{FFFD}"), "a lone surrogate becomes U+FFFD")
        guard case .double(let nan) = try Value.parseJSON("NaN") else { return XCTFail("NaN") }
        XCTAssertTrue(nan.isNaN)
    }

    func test_floatRepr_matchesPython() {
        let cases: [(Double, String)] = [
            (1, "1.0"), (0.1, "0.1"), (1.5e-7, "1.5e-07"), (1e16, "1e+16"), (1e15, "1000000000000000.0"), (0.0001, "0.0001"),
            (0.00001, "1e-05"), (-0.0, "-0.0"), (123456789.123, "123456789.123"), (2.5e20, "2.5e+20"), (1 / 3, "0.3333333333333333"),
            (.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (.infinity, "inf"), (-.infinity, "-inf"), (.nan, "nan"),
            (1e22, "1e+22"), (123_456_789_012_345_680, "1.2345678901234568e+17"), (100, "100.0"),
        ]
        for (value, python) in cases { XCTAssertEqual(PythonFormat.floatRepr(value), python, "\(value)") }
    }

    func test_stringRepr_choosesQuotesAndEscapesAsPython() {
        let cases: [(String, String)] = [
            ("it's", #""it's""#), (#"say "hi""#, #"'say "hi"'"#), (#"both ' and ""#, #"'both \' and "'"#), ("a\\b", #"'a\\b'"#),
            ("tab\tnl\n", #"'tab\tnl\n'"#), ("\u{01}\u{7f}", #"'\x01\x7f'"#), ("é\u{a0}\u{200b}😀", "'é\\xa0\\u200b😀'"),
        ]
        for (value, python) in cases { XCTAssertEqual(PythonFormat.repr(.string(value)), python, value) }
    }

    func test_valueFromFoundationJSON_distinguishesBoolsIntsAndFloats() throws {
        let object = try JSONSerialization.jsonObject(with: Data(#"{"b": true, "i": 3, "d": 2.5, "n": null, "s": "x", "a": [false, 0]}"#.utf8))
        let value = Value(json: object)
        XCTAssertEqual(value["b"].map(PythonFormat.repr), "True")
        XCTAssertEqual(value["i"].map(PythonFormat.repr), "3")
        XCTAssertEqual(value["d"].map(PythonFormat.repr), "2.5")
        XCTAssertEqual(value["n"].map(PythonFormat.repr), "None")
        XCTAssertEqual(value["a"].map(PythonFormat.repr), "[False, 0]")
        XCTAssertEqual(Value(json: ["k": 1, "j": [true]] as [String: Any]).object?.keys, ["j", "k"], "Foundation dicts get sorted keys")
    }

    func test_literals_buildValues() {
        let v: Value = ["role": "user", "n": 1, "x": 1.5, "ok": true, "none": nil, "list": [1, "a"]]
        XCTAssertEqual(v.object?.keys, ["role", "n", "x", "ok", "none", "list"])
        XCTAssertEqual(PythonFormat.repr(v), "{'role': 'user', 'n': 1, 'x': 1.5, 'ok': True, 'none': None, 'list': [1, 'a']}")
    }

    func test_messagesFromSwiftDictionaries_roleAndContentFirst() {
        let messages = Value(messages: [["name": "n", "content": "c", "role": "user", "a": "x"]])
        XCTAssertEqual(messages.array?.first?.object?.keys, ["role", "content", "a", "name"])
    }

    func test_pythonEquality_acrossNumbersAndContainers() {
        XCTAssertEqual(Value.int(1), Value.double(1))
        XCTAssertEqual(Value.bool(true), Value.int(1))
        XCTAssertNotEqual(Value.array([1]), Value.tuple([1]))
        XCTAssertEqual(Value.object(OrderedObject([("a", 1), ("b", 2)])), Value.object(OrderedObject([("b", 2), ("a", 1)])))
        XCTAssertNotEqual(Value.string("é"), Value.string("e\u{301}"), "Python compares code points, not canonical equivalence")
        XCTAssertNotEqual(Value.undefined, Value.none)
    }
}
