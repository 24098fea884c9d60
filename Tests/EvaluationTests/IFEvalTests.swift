import XCTest
@testable import Evaluation

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

    func test_make_everyRegistryID_hasAChecker_unknownIDThrowsWithSuggestion() throws {
        XCTAssertEqual(Set(IFEvalChecker.supportedIDs).count, 25)
        XCTAssertThrowsError(try IFEvalChecker.make(id: "keywords:frequency", kwargs: ["keyword": "a"], prompt: "")) { error in
            XCTAssertTrue("\(error)".contains("frequency"), "\(error)")
        }
        XCTAssertThrowsError(try IFEvalChecker.make(id: "keywords:existance", kwargs: [:], prompt: "")) { error in
            XCTAssertEqual(error as? IFEvalError, .unknownInstruction(id: "keywords:existance", suggestion: "keywords:existence"))
        }
    }

    func test_score_strictAndLoose_promptAndInstructionLevel() throws {
        let prompts = [
            IFEvalPrompt(key: 1, prompt: "p1", instructionIDs: ["punctuation:no_comma", "startend:quotation"], kwargs: [[:], [:]]),
            IFEvalPrompt(key: 2, prompt: "p2", instructionIDs: ["detectable_format:title"], kwargs: [[:]]),
            IFEvalPrompt(key: 3, prompt: "p3", instructionIDs: ["punctuation:no_comma", "language:response_language"],
                         kwargs: [[:], ["language": "de"]]),
            IFEvalPrompt(key: 4, prompt: "p4", instructionIDs: ["punctuation:no_comma"], kwargs: [[:]]),
        ]
        // p1: strict fails (first line breaks the quotation), loose passes without the first line.
        // p2: passes both. p3: English, not German. p4: no response.
        let responses = ["p1": "Sure here it is\n\"quoted\"", "p2": "<<T>>",
                         "p3": "This is the answer and it is written in English for the reader."]
        let r = try IFEval.score(prompts: prompts, responses: responses)
        XCTAssertEqual(r.prompts, 3)
        XCTAssertEqual(r.instructions, 5)
        XCTAssertEqual(r.missingResponses, 1)
        XCTAssertEqual(r.strict.promptsFollowed, 1)
        XCTAssertEqual(r.strict.instructionsFollowed, 3)
        XCTAssertEqual(r.loose.promptsFollowed, 2)
        XCTAssertEqual(r.loose.instructionsFollowed, 4)
        XCTAssertEqual(r.strict.promptLevel, 1.0 / 3.0)
        XCTAssertEqual(r.loose.instructionLevel, 0.8)
        XCTAssertEqual(r.perInstruction["startend:quotation"], [0, 1, 1])
        XCTAssertEqual(r.perInstruction["language:response_language"], [0, 0, 1])
    }

    func test_score_emptyResponse_followsNothing() throws {
        let prompts = [IFEvalPrompt(key: 1, prompt: "p", instructionIDs: ["punctuation:no_comma"], kwargs: [[:]])]
        let r = try IFEval.score(prompts: prompts, responses: ["p": "  "])
        XCTAssertEqual(r.emptyResponses, 1)
        XCTAssertEqual(r.strict.instructionsFollowed, 0)
        XCTAssertEqual(r.loose.instructionsFollowed, 0)
    }

    func test_looseVariants_areGooglesEight() {
        let v = IFEval.looseVariants("*a*\nb\nc*")
        XCTAssertEqual(v, ["*a*\nb\nc*", "a\nb\nc", "b\nc*", "*a*\nb", "b", "b\nc", "a\nb", "b"])
    }

    // The expected values below are NLTK's and langdetect's (scripts/ifeval_reference.py set-up).

    func test_punktSentences_abbreviationsInitialsNumbersEllipsis() {
        XCTAssertEqual(PunktSentences.split("Mr. Smith went to Washington. e.g. apples are good. DON'T STOP. wait... What now? 1. First item. 2. second"),
                       ["Mr. Smith went to Washington.", "e.g.", "apples are good.", "DON'T STOP.", "wait... What now?", "1.", "First item.", "2. second"])
        XCTAssertEqual(PunktSentences.count("Wow! Really?! Yes."), 3)
        XCTAssertEqual(PunktSentences.count("He said \"Stop.\" Then he left."), 2)
        XCTAssertEqual(PunktSentences.count("The price rose 3.5 percent. It fell."), 2)
        XCTAssertEqual(PunktSentences.count("By J. Smith today."), 1)
        XCTAssertEqual(PunktSentences.count("  "), 0)
        XCTAssertEqual(PunktSentences.count("no period at all"), 1)
    }

    func test_treebankWords_contractionsQuotesAndPunctuation() {
        XCTAssertEqual(TreebankWords.tokenize("DON'T STOP, NASA's U.S. \"HELLO\" (AI) GONNA CANNOT I'M"),
                       ["DO", "N'T", "STOP", ",", "NASA", "'s", "U.S.", "``", "HELLO", "''", "(", "AI", ")", "GON", "NA", "CAN", "NOT", "I", "'M"])
    }

    func test_pythonCase_isupperIslower() {
        XCTAssertTrue(PythonCase.isUpper("HELLO, 123 ÉTÉ"))
        XCTAssertFalse(PythonCase.isUpper("123"))
        XCTAssertFalse(PythonCase.isUpper("HELLo"))
        XCTAssertTrue(PythonCase.isLower("hello 1"))
        XCTAssertFalse(PythonCase.isLower("ǅ"))
        XCTAssertFalse(PythonCase.isLower("日本"))
    }

    func test_languageDetector_scriptsAndSharedScripts() {
        let cases: [(String, String)] = [
            ("The weather today is pleasant, and many people are walking in the park.", "en"),
            ("आज मौसम बहुत अच्छा है और लोग अपने परिवार के साथ पार्क में घूम रहे हैं।", "hi"),
            ("आज हवामान खूप छान आहे आणि लोक आपल्या कुटुंबासोबत बागेत फिरत आहेत.", "mr"),
            ("आज मौसम धेरै राम्रो छ र मानिसहरू आफ्नो परिवारसँग पार्कमा घुमिरहेका छन्।", "ne"),
            ("آج موسم بہت اچھا ہے اور لوگ اپنے خاندان کے ساتھ پارک میں گھوم رہے ہیں۔", "ur"),
            ("امروز هوا بسیار خوب است و مردم با خانواده خود در پارک قدم می زنند.", "fa"),
            ("الطقس اليوم جميل جدا والناس يمشون في الحديقة مع عائلاتهم.", "ar"),
            ("Сегодня погода очень хорошая, и многие люди гуляют в парке.", "ru"),
            ("Днес времето е много хубаво и много хора се разхождат в парка.", "bg"),
            ("오늘 날씨가 정말 좋아서 많은 사람들이 공원을 산책하고 있습니다.", "ko"),
            ("今日はとても良い天気で、多くの人が公園を散歩しています。", "ja"),
            ("Hôm nay thời tiết rất đẹp và nhiều người đang đi dạo trong công viên.", "vi"),
            ("Leo hali ya hewa ni nzuri sana na watu wengi wanatembea katika bustani.", "sw"),
            ("Tänään sää on todella kaunis ja monet ihmiset kävelevät puistossa.", "fi"),
        ]
        for (text, code) in cases { XCTAssertEqual(LanguageDetector.detect(text), code, text) }
        XCTAssertNil(LanguageDetector.detect("12345 !!! ???"))
    }

    func test_loadPrompts_googlesInputData_allIDsKnown() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/datasets/ifeval/input_data.jsonl").path
        guard FileManager.default.fileExists(atPath: path) else {
            // Skipped only where ../shared (reference data kept outside the repository) is absent; team machines and CI have it.
            throw XCTSkip("skipped: ../shared/datasets/ifeval/input_data.jsonl is absent")
        }
        let prompts = try IFEval.loadPrompts(path: path)
        XCTAssertEqual(prompts.count, 541)
        XCTAssertEqual(prompts.map(\.instructionIDs.count).reduce(0, +), 834)
        XCTAssertEqual(Set(prompts.flatMap(\.instructionIDs)), Set(IFEvalChecker.supportedIDs))
    }

    /// Every checker on seeded random text made of awkward pieces (combining marks, emoji,
    /// CR, lone quotes, dots, fences) returns without trapping, in both scoring modes.
    func test_allCheckers_onRandomAwkwardText_doNotTrap() throws {
        let pieces = ["a", "A", ".", "...", "?", "!", "\"", "'", "’", "“", " ", "\n", "\r\n", "\n\n", "***", "*", "-", "--",
                      "[x]", "<<t>>", "```json", "{", "}", "1.", "3.5", "e.g.", "Mr.", "J.", "DON'T", "é", "e\u{301}", "👍🏽",
                      "क्ष", "ی", "ы", "日本", "한", "P.S.", "Section 1", "******", ",", "\u{0}", "\u{200B}"]
        let kwargs: [String: [String: Any]] = [
            "keywords:existence": ["keywords": ["a", "("]], "keywords:frequency": ["keyword": "a", "frequency": 2, "relation": "at least"],
            "keywords:forbidden_words": ["forbidden_words": ["a"]], "keywords:letter_frequency": ["letter": "a", "let_frequency": 2, "let_relation": "less than"],
            "language:response_language": ["language": "en"], "length_constraints:number_sentences": ["num_sentences": 2, "relation": "at least"],
            "length_constraints:number_paragraphs": ["num_paragraphs": 2], "length_constraints:number_words": ["num_words": 2, "relation": "less than"],
            "length_constraints:nth_paragraph_first_word": ["num_paragraphs": 2, "nth_paragraph": 2, "first_word": "a"],
            "detectable_content:number_placeholders": ["num_placeholders": 1], "detectable_content:postscript": ["postscript_marker": "P.S."],
            "detectable_format:number_bullet_lists": ["num_bullets": 1], "detectable_format:number_highlighted_sections": ["num_highlights": 1],
            "detectable_format:multiple_sections": ["section_spliter": "Section", "num_sections": 1],
            "change_case:capital_word_frequency": ["capital_frequency": 1, "capital_relation": "at least"],
            "startend:end_checker": ["end_phrase": "a"], "combination:repeat_prompt": ["prompt_to_repeat": "a"],
        ]
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        let prompt = IFEvalPrompt(key: 0, prompt: "p", instructionIDs: IFEvalChecker.supportedIDs,
                                  kwargs: IFEvalChecker.supportedIDs.map { kwargs[$0] ?? [:] })
        for _ in 0..<300 {
            let text = (0..<(next() % 40)).map { _ in pieces[next() % pieces.count] }.joined()
            let v = try IFEval.verdicts(prompt, response: text)
            XCTAssertEqual(v.count, 25)
        }
    }
}
