import Autograd
import Foundation
import Inference
import Serving
import XCTest

/// The batching queue without HTTP: batch-mates, answers equal to solo generation, pieces that
/// add up, seeded jobs alone, and refusals when full or stopping.
final class GenerationQueueTests: XCTestCase {
    func prompt(_ model: LoadedModel, _ user: String) throws -> [Int32] {
        try model.encoder.promptTokens(.chat([.init(role: .user, content: user), .init(role: .assistant, content: "")]))
    }

    /// Collects a job's events: the pieces and the summary.
    func collect(_ stream: AsyncStream<GenerationEvent>) -> (pieces: [String], summary: GenerationSummary?, failure: ServingError?) {
        let out = Slots<(pieces: [String], summary: GenerationSummary?, failure: ServingError?)>(1, ([], nil, nil))
        let done = DispatchSemaphore(value: 0)
        Task {
            var pieces: [String] = [], summary: GenerationSummary?, failure: ServingError?
            for await event in stream {
                switch event {
                case let .text(t): pieces.append(t)
                case let .finished(s): summary = s
                case let .failed(e): failure = e
                }
            }
            out[0] = (pieces, summary, failure)
            done.signal()
        }
        done.wait()
        return out[0]
    }

    /// Jobs submitted together with the same settings run as one batch, and each gets exactly
    /// the answer its prompt gets alone; the pieces concatenate to the summary's text.
    func test_jobsWithSameSettings_shareABatch_andEachGetsItsSoloAnswer() throws {
        let model = try TinyChatModel.model()
        let queue = GenerationQueue(model: model, maxBatchSize: 8, batchWindow: 0.2)
        defer { queue.stop() }
        let w = TinyChatModel.words
        let users = (0..<5).map { "Reverse: \(w[$0 + 2]) \(w[$0])" }
        let streams = try users.map { try queue.submit(GenerationJob(prompt: try prompt(model, $0), sampling: .greedy, maxNewTokens: 12)) }
        let results = streams.map(collect)
        for (user, result) in zip(users, results) {
            let expected = try TinyChatModel.soloAnswer(model, user: user, maxTokens: 12)
            let summary = try XCTUnwrap(result.summary)
            XCTAssertEqual(summary.text, expected.text, user)
            XCTAssertEqual(result.pieces.joined(), summary.text)
            XCTAssertEqual(summary.completionTokens, expected.tokens.count)
            XCTAssertEqual(summary.stopReason, expected.stopReason)
            XCTAssertEqual(summary.batchSize, 5, "submitted within the batch window with equal settings")
        }
    }

    /// Free tensor buffers above `retainedPoolBytes` are returned to the system after a batch
    /// (every batch has other shapes, so kept buffers would pile up: SmolLM2's memory grew).
    func test_afterABatch_freeBuffersOverTheBound_areReturned() throws {
        let model = try TinyChatModel.model()
        let queue = GenerationQueue(model: model, maxBatchSize: 8, batchWindow: 0, retainedPoolBytes: 1 << 20)
        defer { queue.stop() }
        BufferPool.trim()
        // Two freed 2 MiB buffers stand for the large activations of earlier batches.
        do {
            let a = Tensor.zeros([2, 1 << 18]), b = Tensor.zeros([2, (1 << 18) + 1024])
            XCTAssertEqual(a.shape.count + b.shape.count, 4)
        }
        XCTAssertGreaterThan(BufferPool.heldBytes, 1 << 20)
        let done = collect(try queue.submit(GenerationJob(prompt: try prompt(model, "Reverse: apple river"), sampling: .greedy, maxNewTokens: 4)))
        XCTAssertNotNil(done.summary)
        // The answer is sent before the worker tidies up; it reports idle (running 0) after.
        let deadline = Date(timeIntervalSinceNow: 10)
        while queue.statistics.running != 0 && Date() < deadline { usleep(1_000) }
        XCTAssertEqual(BufferPool.heldBytes, 0, "emptied after the batch")
    }

    /// Different settings never share a batch; a seeded sampled job runs alone and repeats.
    func test_differentSettingsAndSeededJobs_runInTheirOwnBatches() throws {
        let model = try TinyChatModel.model()
        let queue = GenerationQueue(model: model, maxBatchSize: 8, batchWindow: 0.2)
        defer { queue.stop() }
        let p = try prompt(model, "Reverse: apple river")
        let hot = SamplingOptions(temperature: 1.5)
        let jobs = [
            GenerationJob(prompt: p, sampling: .greedy, maxNewTokens: 8),
            GenerationJob(prompt: p, sampling: .greedy, maxNewTokens: 9),
            GenerationJob(prompt: p, sampling: .greedy, maxNewTokens: 8, stopStrings: ["x"]),
            GenerationJob(prompt: p, sampling: hot, maxNewTokens: 8, seed: 4),
            GenerationJob(prompt: p, sampling: hot, maxNewTokens: 8, seed: 4),
        ]
        let results = try jobs.map { try queue.submit($0) }.map(collect)
        XCTAssertEqual(results.map { $0.summary?.batchSize }, [1, 1, 1, 1, 1])
        XCTAssertEqual(results[3].summary?.text, results[4].summary?.text, "same seed, same answer")
        let solo = try TinyChatModel.soloAnswer(model, user: "Reverse: apple river", maxTokens: 8, sampling: hot, seed: 4)
        XCTAssertEqual(results[3].summary?.text, solo.text)
    }

    func test_fullQueueAndStoppedQueue_refuseNewJobs() throws {
        let model = try TinyChatModel.model()
        let queue = GenerationQueue(model: model, maxBatchSize: 1, maxWaiting: 2, batchWindow: 0)
        let p = try prompt(model, "Reverse: apple river")
        // Different max tokens: no batch-mates. The first may start at once; at most 2 wait.
        var accepted: [AsyncStream<GenerationEvent>] = []
        var refusals: [ServingError] = []
        for i in 0..<8 {
            do { accepted.append(try queue.submit(GenerationJob(prompt: p, sampling: .greedy, maxNewTokens: 100 + i))) } catch let e as ServingError {
                refusals.append(e)
            }
        }
        XCTAssertTrue(refusals.allSatisfy { if case .queueFull = $0 { return true } else { return false } }, "\(refusals)")
        XCTAssertGreaterThanOrEqual(refusals.count, 5)
        queue.stop()
        XCTAssertThrowsError(try queue.submit(GenerationJob(prompt: p, sampling: .greedy, maxNewTokens: 1))) {
            XCTAssertEqual($0 as? ServingError, .shuttingDown)
        }
        // Stopping finished every accepted job.
        for stream in accepted { XCTAssertNotNil(collect(stream).summary) }
    }

    /// A job whose consumer went away before it started is dropped, not generated.
    func test_withdrawnJob_isNotGenerated() throws {
        let model = try TinyChatModel.model()
        let queue = GenerationQueue(model: model, maxBatchSize: 1, batchWindow: 0)
        defer { queue.stop() }
        let p = try prompt(model, "Reverse: apple river")
        let first = try queue.submit(GenerationJob(prompt: p, sampling: .greedy, maxNewTokens: 30))
        do {
            _ = try queue.submit(GenerationJob(prompt: p, sampling: .greedy, maxNewTokens: 31))  // dropped at once
        }
        let third = try queue.submit(GenerationJob(prompt: p, sampling: .greedy, maxNewTokens: 32))
        XCTAssertNotNil(collect(first).summary)
        XCTAssertNotNil(collect(third).summary)
        let stats = queue.statistics
        XCTAssertEqual(stats.waiting, 0)
        XCTAssertEqual(stats.withdrawn, 1)
        XCTAssertEqual(stats.rows, 2, "only the two jobs still wanted were generated")
    }
}
