import XCTest
@testable import Training

/// IFEval checkers against the semantics of Google's `instructions.py`, and strict/loose scoring.
final class IFEvalTests: XCTestCase {
    func checker(_ id: String, _ kwargs: [String: Any] = [:], prompt: String = "") throws -> IFEvalChecker {
        try XCTUnwrap(try IFEvalChecker.make(id: id, kwargs: kwargs, prompt: prompt), id)
    }

    func expect(_ id: String, _ kwargs: [String: Any] = [:], prompt: String = "", pass: [String], fail: [String],
                file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try checker(id, kwargs, prompt: prompt)
        for s in pass { XCTAssertTrue(c(s), "\(id) should pass: \(s.debugDescription)", file: file, line: line) }
        for s in fail { XCTAssertFalse(c(s), "\(id) should fail: \(s.debugDescription)", file: file, line: line) }
    }

    func test_keywordCheckers() throws {
        try expect("keywords:existence", ["keywords": ["apple", "Pie"]], pass: ["An APPLE pie", "pineapple pies"], fail: ["apple only"])
        try expect("keywords:frequency", ["keyword": "cat", "frequency": 2, "relation": "at least"],
                   pass: ["Cat, cat", "concatenate cat"], fail: ["one cat"])
        try expect("keywords:frequency", ["keyword": "cat", "frequency": 2, "relation": "less than"], pass: ["one cat"], fail: ["cat cat"])
        try expect("keywords:forbidden_words", ["forbidden_words": ["bad", "evil"]], pass: ["badly done", "fine"], fail: ["not BAD.", "evil!"])
        try expect("keywords:letter_frequency", ["letter": "A", "let_frequency": 3, "let_relation": "at least"],
                   pass: ["banana"], fail: ["bread"])
    }

    func test_lengthCheckers() throws {
        try expect("length_constraints:number_words", ["num_words": 3, "relation": "less than"], pass: ["two words!"], fail: ["one two three"])
        try expect("length_constraints:number_paragraphs", ["num_paragraphs": 2],
                   pass: ["a\n***\nb", "***a *** b***"], fail: ["a *** *** b", "a"])
        try expect("length_constraints:nth_paragraph_first_word", ["num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Hello"],
                   pass: ["First.\n\n\"Hello, world", "First.\n\nhello."], fail: ["First.\n\nGoodbye", "a\n\nhello\n\nc"])
    }

    func test_contentAndFormatCheckers() throws {
        try expect("detectable_content:number_placeholders", ["num_placeholders": 2], pass: ["[name] at [address]"], fail: ["[name] only"])
        try expect("detectable_content:postscript", ["postscript_marker": "P.S."], pass: ["Hi.\nP.S. bye", "hi p.s. x"], fail: ["PS bye"])
        try expect("detectable_content:postscript", ["postscript_marker": "P.P.S"], pass: ["x\nP.P.S more"], fail: ["x\nP.S. more"])
        try expect("detectable_format:number_bullet_lists", ["num_bullets": 2], pass: ["* a\n- b", "  * a\n* b\ntext"],
                   fail: ["* a", "* a\n* b\n- c", "** bold\n* a"])
        try expect("detectable_format:constrained_response", pass: ["Well. My answer is maybe."], fail: ["My answer is probably."])
        try expect("detectable_format:number_highlighted_sections", ["num_highlights": 2],
                   pass: ["*one* and *two*", "**bold** and *it*"], fail: ["**bold** text", "*one* and ** **", "* *"])
        try expect("detectable_format:multiple_sections", ["section_spliter": "Section", "num_sections": 2],
                   pass: ["Section 1\na\nSection 2\nb"], fail: ["Section 1 only"])
        try expect("detectable_format:json_format", pass: ["```json\n{\"a\": 1}\n```", "[1, 2]", " 3 "], fail: ["{a: 1}", "json: {}"])
        try expect("detectable_format:title", pass: ["<<My Title>>\ntext"], fail: ["<< >>", "<<a\nb>>", "no title"])
    }

    func test_combinationStartEndAndPunctuationCheckers() throws {
        try expect("combination:two_responses", pass: ["one\n******\ntwo", "******one******two"], fail: ["same******same", "a******", "a****** ******b"])
        try expect("combination:repeat_prompt", ["prompt_to_repeat": "Say hi."], pass: ["say HI. Hello!"], fail: ["Hello. Say hi."])
        try expect("startend:end_checker", ["end_phrase": "Is there anything else?"],
                   pass: ["Done. is there anything else?\"  "], fail: ["Is there anything else? Yes."])
        try expect("startend:quotation", pass: [" \"quoted\" "], fail: ["\"", "\"open"])
        try expect("punctuation:no_comma", pass: ["no commas here"], fail: ["one, two"])
    }

    func test_make_unsupportedID_returnsNil_andBadKwargsThrow() throws {
        for id in IFEvalChecker.unsupportedIDs {
            XCTAssertNil(try IFEvalChecker.make(id: id, kwargs: [:], prompt: ""))
        }
        XCTAssertEqual(IFEvalChecker.supportedIDs.count + IFEvalChecker.unsupportedIDs.count, 25)
        XCTAssertThrowsError(try IFEvalChecker.make(id: "keywords:frequency", kwargs: ["keyword": "a"], prompt: "")) { error in
            XCTAssertTrue("\(error)".contains("frequency"), "\(error)")
        }
    }

    func test_score_strictAndLoose_promptAndInstructionLevel() throws {
        let prompts = [
            IFEvalPrompt(key: 1, prompt: "p1", instructionIDs: ["punctuation:no_comma", "startend:quotation"], kwargs: [[:], [:]]),
            IFEvalPrompt(key: 2, prompt: "p2", instructionIDs: ["detectable_format:title"], kwargs: [[:]]),
            IFEvalPrompt(key: 3, prompt: "p3", instructionIDs: ["punctuation:no_comma", "language:response_language"],
                         kwargs: [[:], ["language": "en"]]),
            IFEvalPrompt(key: 4, prompt: "p4", instructionIDs: ["punctuation:no_comma"], kwargs: [[:]]),
        ]
        // p1: strict fails (first line breaks the quotation), loose passes without the first line.
        // p2: passes both. p3: has an unsupported id. p4: no response.
        let responses = ["p1": "Sure here it is\n\"quoted\"", "p2": "<<T>>", "p3": "x"]
        let r = try IFEval.score(prompts: prompts, responses: responses)
        XCTAssertEqual(r.prompts, 2)
        XCTAssertEqual(r.instructions, 4)
        XCTAssertEqual(r.skippedPrompts, 1)
        XCTAssertEqual(r.skippedInstructions, 1)
        XCTAssertEqual(r.missingResponses, 1)
        XCTAssertEqual(r.strict.promptsFollowed, 1)
        XCTAssertEqual(r.strict.instructionsFollowed, 3)
        XCTAssertEqual(r.loose.promptsFollowed, 2)
        XCTAssertEqual(r.loose.instructionsFollowed, 4)
        XCTAssertEqual(r.strict.promptLevel, 0.5)
        XCTAssertEqual(r.loose.instructionLevel, 1.0)
        XCTAssertEqual(r.perInstruction["startend:quotation"], [0, 1, 1])
    }

    func test_score_emptyResponse_followsNothing() throws {
        let prompts = [IFEvalPrompt(key: 1, prompt: "p", instructionIDs: ["punctuation:no_comma"], kwargs: [[:]])]
        let r = try IFEval.score(prompts: prompts, responses: ["p": "  "])
        XCTAssertEqual(r.strict.instructionsFollowed, 0)
        XCTAssertEqual(r.loose.instructionsFollowed, 0)
    }

    func test_looseVariants_areGooglesEight() {
        let v = IFEval.looseVariants("*a*\nb\nc*")
        XCTAssertEqual(v, ["*a*\nb\nc*", "a\nb\nc", "b\nc*", "*a*\nb", "b", "b\nc", "a\nb", "b"])
    }
}
