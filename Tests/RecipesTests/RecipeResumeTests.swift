import Foundation
import XCTest
@testable import Recipes

final class RecipeResumeTests: XCTestCase {
    let base = "tokenizer: {path: tok}\ndata: {datasets: [{path: a.jsonl}]}\nmodel: {dim: 32, heads: 4, layers: 2}\n"
        + "training: {max_steps: 100}\n"

    func recipe(_ overrides: [String] = []) throws -> Recipe {
        try Recipe.decode(yaml: base, file: "r.yaml", overrides: overrides)
    }

    func test_compare_safeChanges_areAllowedAndListed() throws {
        let check = RecipeResume.compare(saved: try recipe(),
                                         current: try recipe(["training.max_steps=200", "eval.every=10", "training.log_every=5",
                                                              "training.save_every=20"]),
                                         savedDataFingerprint: "abc", currentDataFingerprint: "abc")
        XCTAssertEqual(check.refused, [])
        XCTAssertEqual(check.changes, ["eval.every: 0 -> 10", "training.log_every: 1 -> 5", "training.max_steps: 100 -> 200",
                                       "training.save_every: 0 -> 20"])
    }

    /// The best loss and the count of evaluations since are always in trainer_state.json, so
    /// switching keep_best or early stopping on or off on a resume is safe.
    func test_compare_keepBestAndEarlyStopping_mayChange() throws {
        let check = RecipeResume.compare(saved: try recipe(),
                                         current: try recipe(["training.keep_best=true", "training.early_stopping_patience=3",
                                                              "training.early_stopping_min_delta=0.5", "eval.every=10"]),
                                         savedDataFingerprint: "abc", currentDataFingerprint: "abc")
        XCTAssertEqual(check.refused, [])
        XCTAssertEqual(check.changes, ["eval.every: 0 -> 10", "training.early_stopping_min_delta: 0.0 -> 0.5",
                                       "training.early_stopping_patience: 0 -> 3", "training.keep_best: false -> true"])
    }

    /// Weights and AdamW moments are float32 whatever the products' precision, so a run may
    /// switch it on resume; the change is reported.
    func test_compare_precision_mayChangeAndIsReported() throws {
        let check = RecipeResume.compare(saved: try recipe(), current: try recipe(["training.precision=bf16"]),
                                         savedDataFingerprint: "abc", currentDataFingerprint: "abc")
        XCTAssertEqual(check.refused, [])
        XCTAssertEqual(check.changes, ["training.precision: float32 -> bf16"])
    }

    /// Activation checkpointing changes memory and time, no number: it may change on resume.
    func test_compare_activationCheckpointing_mayChange() throws {
        let check = RecipeResume.compare(saved: try recipe(), current: try recipe(["training.activation_checkpointing=true"]),
                                         savedDataFingerprint: "abc", currentDataFingerprint: "abc")
        XCTAssertEqual(check.refused, [])
        XCTAssertEqual(check.changes, ["training.activation_checkpointing: false -> true"])
    }

    func test_compare_unchanged_isEmpty() throws {
        let check = RecipeResume.compare(saved: try recipe(), current: try recipe(), savedDataFingerprint: "a", currentDataFingerprint: "a")
        XCTAssertEqual(check, RecipeResume.Check(refused: [], changes: []))
    }

    func test_compare_unsafeChanges_areRefusedNamingEachDifference() throws {
        let check = RecipeResume.compare(saved: try recipe(),
                                         current: try recipe(["model.dim=64", "tokenizer.path=other", "seed=7",
                                                              "training.batch_size=4", "training.max_steps=150"]),
                                         savedDataFingerprint: "aaaa", currentDataFingerprint: "bbbb")
        XCTAssertEqual(check.changes, ["training.max_steps: 100 -> 150"])
        let text = check.refused.joined(separator: "\n")
        for key in ["model.dim: 32 -> 64", "tokenizer.path", "seed: 0 -> 7", "training.batch_size: 8 -> 4", "data fingerprint: aaaa -> bbbb"] {
            XCTAssertTrue(text.contains(key), "refusal should name \(key): \(text)")
        }
        XCTAssertEqual(check.refused.count, 5)
    }

    func test_trainingSection_saveEveryAndKeepLast_decodeAndValidate() throws {
        let r = try recipe(["training.save_every=50", "training.keep_last=3"])
        XCTAssertEqual(r.training.options.saveEvery, 50)
        XCTAssertEqual(r.training.options.keepLast, 3)
        XCTAssertNil(try recipe().training.options.keepLast)
        XCTAssertThrowsError(try recipe(["training.keep_last=0"]))
        XCTAssertThrowsError(try recipe(["training.save_every=-1"]))
        var back = try Recipe.decode(yaml: r.resolvedYAML(), file: r.file)
        back.file = r.file
        XCTAssertEqual(back, r)
    }
}
