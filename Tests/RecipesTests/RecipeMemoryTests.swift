import Autograd
import Foundation
import Models
import Training
import XCTest
@testable import Recipes

/// The memory check and the context check run before the data is prepared, and refuse naming
/// the recipe keys; the run's plan finds the head's rows in the run's own batches.
final class RecipeMemoryTests: XCTestCase {
    static var dataPath: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-recipe-memory-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("data.jsonl").path
        let lines = (0..<40).map { i in #"{"instruction": "Repeat the word.", "input": "w\#(i)", "output": "w\#(i) w\#(i)"}"# }
        try? (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    func recipe(_ model: String = "{dim: 32, layers: 1, heads: 2}", training: String = "{batch_size: 2, max_steps: 2}",
                seqLen: Int = 64) throws -> Recipe {
        try Recipe.decode(yaml: """
            tokenizer: {train: {vocab_size: 280}}
            data: {datasets: [{path: \(Self.dataPath)}], seq_len: \(seqLen), cache_dir: null}
            model: \(model)
            training: \(training)
            """, file: "memory.yaml")
    }

    func test_setUp_absurdBatch_doesNotFit_namesBatchSizeAndMachine() throws {
        let start = Date()
        XCTAssertThrowsError(try recipe(training: "{batch_size: 100000000}").setUp()) { error in
            guard case let RecipeError.doesNotFit(source, estimate, memory, keys, advice) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(source, "memory.yaml")
            XCTAssertTrue(estimate.hasPrefix("estimated peak"), estimate)
            XCTAssertTrue(memory.contains(MemoryStats.machineMemory().source), memory)
            XCTAssertEqual(keys.first, "training.batch_size (100000000)")
            XCTAssertTrue(advice.contains("grad_accum"), advice)
            XCTAssertTrue("\(error)".contains("Nothing was allocated"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    }

    func test_setUp_hugeModel_doesNotFit_namesTheShapeKeys() throws {
        XCTAssertThrowsError(try recipe("{dim: 65536, layers: 64, heads: 2}").setUp()) { error in
            guard case let RecipeError.doesNotFit(_, _, _, keys, advice) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(keys.first, "model.dim (65536)")
            XCTAssertTrue(keys.contains("model.layers (64)"), "\(keys)")
            XCTAssertEqual(advice, "make the model smaller")
        }
    }

    /// A Llama with a stated context refuses a longer `data.seq_len` (before packing, which
    /// with a seq_len of 1e8 took minutes); without one, the context is seq_len.
    func test_setUp_seqLenAboveStatedContext_refusedNamingSeqLen() throws {
        XCTAssertThrowsError(try recipe("{dim: 32, layers: 1, heads: 2, context_length: 32}", seqLen: 100_000_000).setUp()) { error in
            guard case let RecipeError.invalidValue(_, key, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "data.seq_len")
            XCTAssertTrue(reason.contains("model.context_length, 32 tokens") && reason.contains("at most 32"), reason)
        }
        XCTAssertNoThrow(try recipe("{dim: 32, layers: 1, heads: 2, context_length: 64}", seqLen: 64).setUp())
    }

    /// The plan's head rows are the most trained targets of a micro-batch of the run: fewer
    /// than every token (prompts are not trained), so the logits' part is below the all-rows one.
    func test_memoryPlan_headRowsFromTheRunsBatches() throws {
        let setup = try recipe(training: "{batch_size: 2, max_steps: 5}").setUp()
        let plan = try setup.memoryPlan()
        let rows = try MemoryPlan.mostTrainedTargets(data: setup.data, options: setup.recipe.trainingOptions)
        XCTAssertGreaterThan(rows, 0)
        XCTAssertLessThan(rows, 2 * 64)
        let everyRow = setup.recipe.memoryPlan(config: setup.model.config)
        XCTAssertLessThan(plan.logits, everyRow.logits)
        XCTAssertTrue(setup.memoryLine(plan).hasPrefix("memory: estimated peak"))
    }
}
