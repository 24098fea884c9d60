import XCTest
@testable import Tokenizers

final class PreTokenizerTests: XCTestCase {
    private func pieces(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { buf in
            var scanner = PreTokenScanner(buf)
            var out: [String] = []
            while let r = scanner.next() { out.append(String(decoding: buf[r], as: UTF8.self)) }
            return out
        }
    }

    func test_scanner_wordsAndSpaces_spaceJoinsNextWord() {
        XCTAssertEqual(pieces("Hello world"), ["Hello", " world"])
        XCTAssertEqual(pieces("Hello  world"), ["Hello", " ", " world"])
        XCTAssertEqual(pieces("a   "), ["a", "   "])
    }

    func test_scanner_contractions_lowercaseOnly() {
        XCTAssertEqual(pieces("don't"), ["don", "'t"])
        XCTAssertEqual(pieces("we'll've"), ["we", "'ll", "'ve"])
        XCTAssertEqual(pieces("IT'S"), ["IT", "'", "S"])
    }

    func test_scanner_whitespaceRunBeforeWord_leavesLastCharacter() {
        XCTAssertEqual(pieces("a\n\nb"), ["a", "\n", "\n", "b"])
        XCTAssertEqual(pieces("a \n b"), ["a", " \n", " b"])
        XCTAssertEqual(pieces("\tx"), ["\t", "x"])
    }

    func test_scanner_numbersLettersSymbols_separateRuns() {
        XCTAssertEqual(pieces("abc123 45!?"), ["abc", "123", " 45", "!?"])
        XCTAssertEqual(pieces("e\u{301}"), ["e", "\u{301}"])
        XCTAssertEqual(pieces("日本 語"), ["日本", " 語"])
    }

    func test_scanner_empty_givesNothing() {
        XCTAssertEqual(pieces(""), [])
    }
}
