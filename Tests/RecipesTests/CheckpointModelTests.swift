import Checkpoints
import Datasets
import Foundation
import Models
import NN
import Inference
import Interop
import Training
import XCTest
@testable import Recipes

/// `LoadedModel`: opening a trained checkpoint, its loss on a data file, and bad checkpoints.
final class CheckpointModelTests: XCTestCase {
    /// A tiny trained run shared by the tests: 48 alpaca records, a 300-id BPE, one layer.
    static var runDirectory: URL?
    static var dataPath = ""

    static func trainedRun() throws -> URL {
        if let d = runDirectory { return d }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let words = ["apple", "river", "stone", "cloud", "green", "quick", "seven", "light"]
        var lines: [String] = []
        for i in 0..<48 {
            let a = words[i % 8], b = words[(i * 3 + 1) % 8]
            let object: [String: String] = ["instruction": "Reverse the two words.", "input": "\(a) \(b)", "output": "\(b) \(a)"]
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        }
        dataPath = dir.appendingPathComponent("data.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: dataPath, atomically: true, encoding: .utf8)
        let yaml = """
            seed: 2
            tokenizer: {train: {vocab_size: 300}}
            data:
              datasets: [{path: \(dataPath), split: 0.25}]
              seq_len: 256
              cache_dir: null
            model: {dim: 32, layers: 1, heads: 2}
            training: {batch_size: 4, max_steps: 6, threads: 1, warmup_steps: 0, lr: 3e-3}
            output: {dir: \(dir.appendingPathComponent("run").path)}
            """
        let recipe = try Recipe.decode(yaml: yaml, file: "tiny.yaml")
        _ = try recipe.run(events: { _ in }, report: { _ in })
        runDirectory = dir.appendingPathComponent("run")
        return runDirectory!  // just set
    }

    func test_load_runDirectory_resolvesLatestAndValidates() throws {
        let run = try Self.trainedRun()
        let loaded = try LoadedModel.load(path: run.path)
        XCTAssertEqual(loaded.step, 6)
        XCTAssertEqual(loaded.directory.lastPathComponent, "step-0000006")
        XCTAssertNoThrow(try loaded.model.validate(loaded.parameters))
        let viaLatest = try LoadedModel.load(path: run.appendingPathComponent("latest").path)
        XCTAssertEqual(viaLatest.directory, loaded.directory)
        XCTAssertEqual(loaded.encoder.template, .alpaca)
    }

    /// The loss `instruct eval` reports equals `Trainer.evaluate` on the same examples.
    func test_evaluateLoss_trainingFile_equalsTrainerEvaluate() throws {
        let run = try Self.trainedRun()
        let loaded = try LoadedModel.load(path: run.path)
        let settings = try EvaluationSettings.of(loaded)
        let report = try loaded.evaluateLoss(path: Self.dataPath, like: settings.data, batchSize: settings.batchSize)
        XCTAssertEqual(report.records, 48)
        XCTAssertEqual(report.examples, 48)

        // The trainer's own path: the stored recipe set up with the whole file as training
        // data, its rows also served as the validation split.
        let stored = try XCTUnwrap(try Recipe.stored(in: try CheckpointReader.open(loaded.directory)))
        let recipe = try Recipe.decode(yaml: stored.resolvedYAML(), file: "resolved", overrides: ["data.datasets[0].split=0"])
        var plan = try recipe.setUp()
        for i in plan.data.datasets.indices {
            plan.data.datasets[i].validation = plan.data.datasets[i].train
            plan.data.datasets[i].validationPlan = plan.data.datasets[i].trainPlan
        }
        let trainer = try Trainer(model: plan.model, parameters: loaded.parameters, data: plan.data, options: recipe.trainingOptions)
        let expected = try XCTUnwrap(try trainer.evaluate())
        XCTAssertEqual(report.tokens, expected.evalTokens)
        XCTAssertEqual(report.loss, expected.evalLoss, accuracy: 1e-6)
        XCTAssertEqual(report.perplexity, expected.evalPerplexity, accuracy: 1e-6 * expected.evalPerplexity)
        XCTAssertLessThan(report.loss, log(Double(loaded.model.config.vocabSize)), "6 steps should beat a uniform guess")
    }

    func test_generateResponses_greedy_equalsGeneratorOnPromptTokens() throws {
        let run = try Self.trainedRun()
        let loaded = try LoadedModel.load(path: run.path)
        let answers = try loaded.generateResponses(path: Self.dataPath, like: try EvaluationSettings.of(loaded).data, maxNewTokens: 6,
                                                   batchSize: 5, limit: 7)
        XCTAssertEqual(answers.count, 7)
        let file = try RecordReader.read(path: Self.dataPath)
        for (i, a) in answers.enumerated() {
            let prompt = try loaded.encoder.promptTokens(file.records[i].content)
            let alone = try Generator.generate(model: loaded.model, parameters: loaded.parameters, prompts: [prompt],
                                               options: loaded.generationOptions(maxNewTokens: 6))[0]
            XCTAssertEqual(a.response, loaded.tokenizer.decode(alone), "record \(i)")
        }
    }

    func test_load_missingPath_throwsNotFound() {
        XCTAssertThrowsError(try LoadedModel.load(path: "/nonexistent/ckpt")) { error in
            XCTAssertEqual(error as? CheckpointError, .notFound(path: "/nonexistent/ckpt"))
            XCTAssertTrue("\(error)".contains("/nonexistent/ckpt"))
        }
    }

    func test_load_cardWithOtherModelShape_namesWeightsFile() throws {
        let run = try Self.trainedRun()
        let source = try CheckpointDirectory.resolve(run.path)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-bad-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: copy)
        let cardURL = copy.appendingPathComponent("model_card.json")
        let json = try String(contentsOf: cardURL, encoding: .utf8).replacingOccurrences(of: "\"dim\" : 32", with: "\"dim\" : 48")
        XCTAssertTrue(json.contains("\"dim\" : 48"))
        try json.write(to: cardURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LoadedModel.load(path: copy.path)) { error in
            XCTAssertTrue(error is CheckpointError, "the manifest's checksum catches the edit first: \(error)")
        }
        XCTAssertThrowsError(try LoadedModel.load(path: copy.path, verify: false)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("model.safetensors") && text.contains("shape"), text)
        }
    }

    /// A checkpoint without a model card opens with the card its recipe describes; without
    /// either, the error names the card.
    func test_load_withoutCard_usesRecipe_withoutEither_namesCardFile() throws {
        let run = try Self.trainedRun()
        let source = try CheckpointDirectory.resolve(run.path)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-norecipe-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: copy)
        // Drop files from the manifest too, so the checkpoint is consistent but lacks them.
        func drop(_ name: String) throws {
            let manifestURL = copy.appendingPathComponent("manifest.json")
            var manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [String: Any])
            let files = try XCTUnwrap(manifest["files"] as? [[String: Any]])
            manifest["files"] = files.filter { ($0["name"] as? String) != name }
            try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)
            try FileManager.default.removeItem(at: copy.appendingPathComponent(name))
        }
        let original = try LoadedModel.load(path: source.path)
        try drop("model_card.json")
        let derived = try LoadedModel.open(path: copy.path)
        XCTAssertEqual(derived.card.config, original.card.config)
        XCTAssertEqual(derived.card.template, .alpaca)
        try drop("recipe.yaml")
        XCTAssertThrowsError(try LoadedModel.open(path: copy.path)) { error in
            XCTAssertTrue("\(error)".contains("model_card.json"), "\(error)")
        }
    }

    func test_trainingTemplate_autoFormat_detectedFromFirstLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-tmpl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let chat = dir.appendingPathComponent("chat.jsonl").path
        try "\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n"
            .write(toFile: chat, atomically: true, encoding: .utf8)
        XCTAssertEqual(Recipe.trainingTemplate(DatasetSpec(path: chat)), .chatml)
        XCTAssertEqual(Recipe.trainingTemplate(DatasetSpec(path: chat, template: .plain)), .plain)
        XCTAssertEqual(Recipe.trainingTemplate(DatasetSpec(path: dir.appendingPathComponent("gone.jsonl").path)), .alpaca)
    }
}
