import Datasets
import Foundation
import Models
import XCTest
@testable import Recipes

final class RecipeSectionsTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func decode(_ yaml: String, _ overrides: [String] = []) throws -> Recipe {
        try Recipe.decode(yaml: yaml, file: "r.yaml", overrides: overrides)
    }

    let minimal = "tokenizer: {path: tok}\ndata: {datasets: [{path: a.jsonl}]}\n"

    func test_everyRecipeInRecipesFolder_decodes() throws {
        let dir = Self.root.appendingPathComponent("recipes")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 3, "recipes/ should hold the quickstart, a chat SFT and a GPT-2 recipe")
        for f in files {
            let path = dir.appendingPathComponent(f).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            XCTAssertTrue(text.hasPrefix("#"), "\(f) needs a header comment saying what it does and how long it takes")
            XCTAssertNoThrow(try Recipe.load(path: path), "\(f)")
        }
    }

    func test_resolvedYAML_decodesBackToTheSameRecipe() throws {
        let dir = Self.root.appendingPathComponent("recipes")
        for f in ["quickstart.yaml", "oasst-chat.yaml", "dolly-gpt2.yaml", "stories260k-lora.yaml", "gpt2-lora.yaml"] {
            let r = try Recipe.load(path: dir.appendingPathComponent(f).path, overrides: ["training.lr=0.002"])
            var back = try Recipe.decode(yaml: r.resolvedYAML(), file: r.file)
            back.file = r.file
            XCTAssertEqual(back, r, f)
        }
        var custom = try decode(minimal + "model: {family: gpt2, dim: 32, heads: 4, layers: 1}\n",
                                ["data.datasets.0.template={user: 'Q: {user}', assistant: 'A: {assistant}', eos: false}"])
        var back = try Recipe.decode(yaml: custom.resolvedYAML(), file: "r.yaml")
        back.file = custom.file
        custom.file = back.file
        XCTAssertEqual(back, custom)
    }

    func test_evalSamples_inlineAndFile_roundTripThroughResolvedYAML() throws {
        let inline = try decode(minimal + "eval: {samples: {prompts: [\"Say hi.\", \"Count: 1 2\"], max_new_tokens: 8}}\n")
        XCTAssertEqual(inline.eval.samples, SamplesSection(prompts: .inline(["Say hi.", "Count: 1 2"]), maxNewTokens: 8, temperature: 0))
        let file = try decode(minimal + "eval: {samples: {prompts: p.jsonl, temperature: 0.7}}\n")
        XCTAssertEqual(file.eval.samples?.prompts, .file("p.jsonl"))
        XCTAssertEqual(file.eval.samples?.maxNewTokens, 32)
        XCTAssertNil(try decode(minimal).eval.samples)
        for r in [inline, file] {
            var back = try Recipe.decode(yaml: r.resolvedYAML(), file: "r.yaml")
            back.file = r.file
            XCTAssertEqual(back, r)
        }
    }

    func test_evalSamples_badKeys_areNamedWithSuggestions() {
        XCTAssertThrowsError(try decode(minimal + "eval: {samples: {promts: [a]}}\n")) { error in
            guard case let .unknownKey(_, key, suggestion)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "eval.samples.promts")
            XCTAssertEqual(suggestion, "eval.samples.prompts")
        }
        XCTAssertThrowsError(try decode(minimal + "eval: {sampels: {prompts: [a]}}\n")) { error in
            guard case let .unknownKey(_, _, suggestion)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(suggestion, "eval.samples")
        }
        XCTAssertThrowsError(try decode(minimal + "eval: {samples: {max_new_tokens: 4}}\n")) { error in
            XCTAssertEqual(error as? RecipeError, .missingKey(source: "r.yaml:3", key: "eval.samples.prompts"))
        }
        XCTAssertThrowsError(try decode(minimal + "eval: {samples: {prompts: []}}\n")) { error in
            XCTAssertTrue("\(error)".contains("eval.samples.prompts"), "\(error)")
        }
        XCTAssertThrowsError(try decode(minimal + "eval: {samples: {prompts: [ok, {a: 1}]}}\n")) { error in
            XCTAssertTrue("\(error)".contains("eval.samples.prompts[1]"), "\(error)")
        }
        XCTAssertThrowsError(try decode(minimal + "eval: {samples: {prompts: [a], temperature: -1}}\n")) { error in
            XCTAssertTrue("\(error)".contains("eval.samples.temperature"), "\(error)")
        }
    }

    func test_evalSamples_promptFiles_jsonlAndText_badLinesNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("samples-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let jsonl = dir.appendingPathComponent("p.jsonl"), text = dir.appendingPathComponent("p.txt"), bad = dir.appendingPathComponent("bad.jsonl")
        try "{\"prompt\": \"Add.\", \"input\": \"2 + 3\"}\n\n{\"prompt\": \"Say hi.\"}\n".write(to: jsonl, atomically: true, encoding: .utf8)
        try "First prompt\n\n  \nSecond: {json}\n".write(to: text, atomically: true, encoding: .utf8)
        try "{\"prompt\": \"ok\"}\n{\"text\": \"no prompt\"}\n".write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertEqual(try CheckpointSamples.readPrompts(.file(jsonl.path)), ["Add.\n\n2 + 3", "Say hi."])
        XCTAssertEqual(try CheckpointSamples.readPrompts(.file(text.path)), ["First prompt", "Second: {json}"])
        XCTAssertThrowsError(try CheckpointSamples.readPrompts(.file(bad.path))) { error in
            XCTAssertTrue("\(error)".contains("bad.jsonl:2"), "\(error)")
        }
        XCTAssertThrowsError(try CheckpointSamples.readPrompts(.file(dir.appendingPathComponent("none.txt").path))) { error in
            XCTAssertTrue("\(error)".contains("none.txt"), "\(error)")
        }
    }

    func test_modelSection_defaultsAndConfig() throws {
        let r = try decode(minimal)
        XCTAssertEqual(r.model.family, .llama)
        let c = r.model.config(vocabSize: 300, seqLen: 128)
        XCTAssertEqual(c.vocabSize, 300)
        XCTAssertEqual(c.contextLength, 128)
        XCTAssertEqual(c.dim, 128)
        XCTAssertEqual(r.output.dir, "checkpoints/r")
    }

    func test_misspeltModelKey_namesPathAndSuggestsClosest() {
        XCTAssertThrowsError(try decode(minimal + "model: {dimm: 64}\n")) { error in
            XCTAssertEqual(error as? RecipeError, .unknownKey(source: "r.yaml:3", key: "model.dimm", suggestion: "model.dim"))
        }
        XCTAssertThrowsError(try decode(minimal, ["training.lrr=1"])) { error in
            guard case let .unknownKey(_, key, suggestion)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "training.lrr")
            XCTAssertEqual(suggestion, "training.lr")
        }
    }

    func test_invalidModelShape_namesTheSectionAndProblem() {
        XCTAssertThrowsError(try decode(minimal + "model: {dim: 100, heads: 3}\n")) { error in
            guard case let .invalidValue(_, key, reason)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "model")
            XCTAssertTrue(reason.contains("multiple of heads"), reason)
        }
    }

    func test_wrongTypesInTraining_nameKeyAndExpectedType() {
        XCTAssertThrowsError(try decode(minimal, ["training.batch_size=many"])) { error in
            guard case let .wrongType(_, key, _, _)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "training.batch_size")
        }
        XCTAssertThrowsError(try decode(minimal, ["training.schedule=cosin"])) { error in
            XCTAssertTrue("\(error)".contains("training.schedule"), "\(error)")
            XCTAssertTrue("\(error)".contains("cosine"), "\(error)")
        }
    }

    /// `training.activation_checkpointing`: false by default, true or false from YAML or an
    /// override, anything else an error naming the key.
    func test_activationCheckpointing_defaultOffBoolOnly_namesTheKey() throws {
        XCTAssertFalse(try decode(minimal).trainingOptions.activationCheckpointing)
        XCTAssertTrue(try decode(minimal, ["training.activation_checkpointing=true"]).trainingOptions.activationCheckpointing)
        XCTAssertThrowsError(try decode(minimal, ["training.activation_checkpointing=sometimes"])) { error in
            XCTAssertTrue("\(error)".contains("training.activation_checkpointing"), "\(error)")
        }
        XCTAssertThrowsError(try decode(minimal, ["training.activation_checkpoint=true"])) { error in
            XCTAssertTrue("\(error)".contains("training.activation_checkpointing"), "a misspelling suggests the key: \(error)")
        }
    }

    func test_tokenizer_pathAndTrainTogether_isAnError() {
        XCTAssertThrowsError(try decode("tokenizer: {path: t, train: {vocab_size: 400}}\ndata: {datasets: [{path: a}]}\n")) { error in
            guard case let .invalidValue(_, key, _)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "tokenizer.train")
        }
        XCTAssertThrowsError(try decode("tokenizer: {train: {vocab_size: 100}}\ndata: {datasets: [{path: a}]}\n")) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.train.vocab_size"), "\(error)")
        }
    }

    func test_trainingOptions_takeRecipeSeedAndEvalCadence() throws {
        let r = try decode("seed: 9\n" + minimal + "eval: {every: 25, batches: 3}\n")
        XCTAssertEqual(r.trainingOptions.seed, 9)
        XCTAssertEqual(r.trainingOptions.evalEvery, 25)
        XCTAssertEqual(r.trainingOptions.evalBatches, 3)
        XCTAssertEqual(try decode("seed: 9\n" + minimal, ["training.seed=4"]).trainingOptions.seed, 4)
    }

    func test_trainingPrecision_defaultsToFloat32_readsBF16_refusesOtherValuesNamingTheKey() throws {
        XCTAssertEqual(try decode(minimal).trainingOptions.precision, .float32)
        XCTAssertEqual(try decode(minimal, ["training.precision=bf16"]).trainingOptions.precision, .bf16)
        XCTAssertEqual(try decode(minimal + "training: {precision: float32}\n").trainingOptions.precision, .float32)
        XCTAssertThrowsError(try decode(minimal, ["training.precision=fp16"])) { error in
            XCTAssertEqual(error as? RecipeError, .invalidValue(source: "override `training.precision=fp16`", key: "training.precision",
                                                               reason: "\"fp16\" is not one of float32, bf16; did you mean bf16?"))
        }
        XCTAssertThrowsError(try decode(minimal + "training: {precision: 16}\n")) { error in
            XCTAssertTrue("\(error)".contains("training.precision"), "\(error)")
        }
    }
}
