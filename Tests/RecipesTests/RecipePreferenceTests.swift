import Datasets
import Training
import XCTest
@testable import Recipes

/// The `preference:` section: defaults, keys into the data config, unknown keys, the IPO /
/// label-smoothing check, the resolved recipe and the resume rules.
final class RecipePreferenceTests: XCTestCase {
    let minimal = "tokenizer: {path: tok}\ndata: {datasets: [{path: a.jsonl}]}\n"

    func decode(_ yaml: String, _ overrides: [String] = []) throws -> Recipe {
        try Recipe.decode(yaml: yaml, file: "r.yaml", overrides: overrides)
    }

    func test_absentSection_isSupervised() throws {
        let r = try decode(minimal)
        XCTAssertNil(r.preference)
        XCTAssertNil(r.dataConfig.preference)
    }

    func test_section_defaultsAndKeys_reachOptionsAndData() throws {
        let d = try decode(minimal + "preference: {}\n")
        XCTAssertEqual(d.preference?.options, PreferenceOptions())
        XCTAssertEqual(d.dataConfig.preference, PreferenceDataOptions(promptOverflow: .truncateLeft))
        let r = try decode(minimal + "preference: {loss: ipo, beta: 0.5, prompt_overflow: drop}\n")
        XCTAssertEqual(r.preference?.options.loss, .ipo)
        XCTAssertEqual(r.preference?.options.beta, 0.5)
        XCTAssertEqual(r.dataConfig.preference?.promptOverflow, .drop)
        let s = try decode(minimal + "preference: {label_smoothing: 0.1}\n", ["preference.beta=0.2"])
        XCTAssertEqual(s.preference?.options.labelSmoothing, 0.1)
        XCTAssertEqual(s.preference?.options.beta, 0.2)
        XCTAssertEqual(try decode(minimal + "preference: {rpo_alpha: 1}\n").preference?.options.rpoAlpha, 1)
    }

    func test_unknownKey_isNamedWithSuggestion() {
        XCTAssertThrowsError(try decode(minimal + "preference: {betta: 0.1}\n")) { error in
            guard case let .unknownKey(_, key, suggestion)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "preference.betta")
            XCTAssertEqual(suggestion, "preference.beta")
        }
        XCTAssertThrowsError(try decode(minimal + "preference: {loss: dpo}\n")) { XCTAssertTrue("\($0)".contains("preference.loss"), "\($0)") }
        XCTAssertThrowsError(try decode(minimal + "preference: {beta: 0}\n")) { XCTAssertTrue("\($0)".contains("preference.beta"), "\($0)") }
        XCTAssertThrowsError(try decode(minimal + "preference: {label_smoothing: 0.5}\n")) { XCTAssertTrue("\($0)".contains("label_smoothing"), "\($0)") }
    }

    func test_ipoWithLabelSmoothing_isRefusedNamingTheKey() {
        XCTAssertThrowsError(try decode(minimal + "preference: {loss: ipo, label_smoothing: 0.1}\n")) { error in
            guard case let .invalidValue(_, key, _)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "preference.label_smoothing")
        }
    }

    func test_resolvedYAML_roundTrips() throws {
        let r = try decode(minimal + "preference: {loss: ipo, beta: 0.25, prompt_overflow: drop}\n")
        var back = try Recipe.decode(yaml: r.resolvedYAML(), file: r.file)
        back.file = r.file
        XCTAssertEqual(back, r)
        XCTAssertFalse(try decode(minimal).resolvedYAML().contains("preference"))
    }

    func test_resume_lossAndOverflowMustMatch_betaMayChange() throws {
        let saved = try decode(minimal + "preference: {loss: sigmoid, beta: 0.1}\n")
        let beta = try decode(minimal + "preference: {loss: sigmoid, beta: 0.2}\n")
        let ipo = try decode(minimal + "preference: {loss: ipo, beta: 0.1}\n")
        let sft = try decode(minimal)
        let b = RecipeResume.compare(saved: saved, current: beta, savedDataFingerprint: "f", currentDataFingerprint: "f")
        XCTAssertEqual(b.refused, [])
        XCTAssertEqual(b.changes, ["preference.beta: 0.1 -> 0.2"])
        let i = RecipeResume.compare(saved: saved, current: ipo, savedDataFingerprint: "f", currentDataFingerprint: "f")
        XCTAssertEqual(i.refused, ["preference.loss: sigmoid -> ipo"])
        let s = RecipeResume.compare(saved: saved, current: sft, savedDataFingerprint: "f", currentDataFingerprint: "f")
        XCTAssertFalse(s.refused.isEmpty, "an SFT run cannot resume a preference checkpoint")
    }
}
