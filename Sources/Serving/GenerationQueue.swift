import Autograd
import Foundation
import Inference

/// One answer to generate, its prompt already rendered and tokenized.
public struct GenerationJob: Sendable, Equatable {
    /// Prompt ids (at least one, shorter than the model's context).
    public var prompt: [Int32]
    /// How tokens are chosen.
    public var sampling: SamplingOptions
    /// Most tokens to generate (the row also stops when the context is full).
    public var maxNewTokens: Int
    /// The request's own stop strings; the model card's stops are always added.
    public var stopStrings: [String]
    /// Seed of a sampled answer (nil: a fresh random seed). Greedy answers draw nothing.
    public var seed: UInt64?

    public init(prompt: [Int32], sampling: SamplingOptions, maxNewTokens: Int, stopStrings: [String] = [], seed: UInt64? = nil) {
        self.prompt = prompt
        self.sampling = sampling
        self.maxNewTokens = maxNewTokens
        self.stopStrings = stopStrings
        self.seed = seed
    }
}

/// What a submitted job reports, in order: text pieces as they become final, then one
/// `finished` (or one `failed`). The pieces concatenate to `finished`'s text.
public enum GenerationEvent: Sendable, Equatable {
    /// Newly final text (never a stop string, never half a UTF-8 character).
    case text(String)
    /// The whole answer and its counts.
    case finished(GenerationSummary)
    /// Generation threw; nothing more follows.
    case failed(ServingError)
}

/// A finished answer: its text (cut before the first stop string), its counts and why it stopped.
public struct GenerationSummary: Sendable, Equatable {
    public var text: String
    /// Prompt ids the model read.
    public var promptTokens: Int
    /// Ids generated (an end-of-sequence id is not counted; the token that completed a stop string is).
    public var completionTokens: Int
    public var stopReason: StopReason
    /// Rows in the batch this answer was generated in (1: alone).
    public var batchSize: Int
    /// Seconds from submission to the start of its batch, and from there to its end.
    public var queuedSeconds: Double
    public var generationSeconds: Double
}

/// The requests waiting for the model and the one thread that runs it.
///
/// **How requests are batched.** `Generator.generateRows` runs one batch to its end with one
/// `GenerationOptions` (sampling, max tokens, stop strings) and one RNG for all rows. So the
/// worker takes the oldest waiting job, waits up to `batchWindow` for more, and runs it
/// together with every waiting job (up to `maxBatchSize`, oldest first) whose options are the
/// same: same sampling parameters, `max_tokens` and stop strings. Greedy rows do not depend on
/// their batch-mates; sampled rows would (they draw from one RNG in row order), so a sampled
/// job with its own seed always runs alone, which keeps "same seed, same answer" true, and
/// sampled jobs without a seed share one freshly seeded RNG. Jobs that arrive while a batch
/// runs wait for the next one (no joining a running batch: the key/value cache has a fixed
/// batch size). Each row's tokens go only to its own job (`onToken` names the row), so
/// answers are never interleaved.
///
/// **Memory.** Tensor buffers of 1 MiB and more are kept for reuse by their exact size
/// (`BufferPool`, made for training, where every step has the same shapes). Here every batch
/// has other shapes (rows, prompt lengths, cache capacity), so the pool would fill with sizes
/// that never come back, up to its 4 GiB limit: SmolLM2's resident memory grew 859 -> 1,386 MiB
/// over 1,000 requests. After each batch the worker empties the pool when it holds more than
/// `retainedPoolBytes`, so resident memory stays within the model, one batch's working set and
/// that bound.
///
/// Only the worker thread touches the model; `submit` and `stop` take a lock. Call `stop()`
/// when done: the worker thread holds the queue until then.
public final class GenerationQueue: @unchecked Sendable {  // all mutable state is behind `condition`
    /// The checkpoint the worker generates with.
    public let model: LoadedModel
    /// Most rows in one batch.
    public let maxBatchSize: Int
    /// Most jobs waiting (not yet running); `submit` refuses more with `ServingError.queueFull`.
    public let maxWaiting: Int
    /// How long the worker waits for batch-mates after taking a job (seconds).
    public let batchWindow: Double
    /// Most bytes of free tensor buffers kept between batches (`BufferPool.heldBytes`); above
    /// it the worker returns them all to the system after a batch.
    public let retainedPoolBytes: Int

    private final class Entry {
        let id: Int
        let job: GenerationJob
        let key: BatchKey
        let continuation: AsyncStream<GenerationEvent>.Continuation
        let submitted = DispatchTime.now().uptimeNanoseconds
        var cancelled = false  // under `condition`

        init(id: Int, job: GenerationJob, key: BatchKey, continuation: AsyncStream<GenerationEvent>.Continuation) {
            self.id = id
            self.job = job
            self.key = key
            self.continuation = continuation
        }
    }

    /// What two jobs must share to run in one batch.
    private struct BatchKey: Hashable {
        var temperature: Float, topK: Int, topP: Float, repetitionPenalty: Float
        var maxNewTokens: Int
        var stopStrings: [String]
        /// A seeded sampled job's own id: it runs alone.
        var alone: Int?
    }

    private let condition = NSCondition()
    private var waiting: [Entry] = []
    private var running = 0
    private var batches = 0, rows = 0, withdrawn = 0
    private var nextID = 0
    private var stopping = false
    private var worker: Thread?
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the worker thread for `model`.
    public init(model: LoadedModel, maxBatchSize: Int = 8, maxWaiting: Int = 64, batchWindow: Double = 0.005,
                retainedPoolBytes: Int = 256 << 20) {
        precondition(maxBatchSize >= 1 && maxWaiting >= 1 && batchWindow >= 0 && retainedPoolBytes >= 0,
                     "GenerationQueue: sizes must be positive")
        self.model = model
        self.maxBatchSize = maxBatchSize
        self.maxWaiting = maxWaiting
        self.batchWindow = batchWindow
        self.retainedPoolBytes = retainedPoolBytes
        let thread = Thread { self.work() }  // holds the queue until `stop()` ends the loop
        thread.name = "instruct-generation"
        thread.stackSize = 16 << 20
        worker = thread
        thread.start()
    }

    /// Counts of the queue's work so far.
    public struct Statistics: Sendable, Equatable {
        /// Jobs waiting now.
        public var waiting: Int
        /// Rows of the batch running now (0: idle).
        public var running: Int
        /// Batches run, and the rows they held.
        public var batches: Int
        public var rows: Int
        /// Jobs dropped before they started because their consumer went away.
        public var withdrawn: Int
    }

    /// The queue's counts now.
    public var statistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        return Statistics(waiting: waiting.count, running: running, batches: batches, rows: rows, withdrawn: withdrawn)
    }

    /// Queues `job`; its events arrive on the returned stream. Dropping the stream (a client
    /// that went away) withdraws the job if it has not started. Throws `ServingError.queueFull`
    /// or `.shuttingDown`.
    public func submit(_ job: GenerationJob) throws -> AsyncStream<GenerationEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: GenerationEvent.self, bufferingPolicy: .unbounded)
        condition.lock()
        defer { condition.unlock() }
        if stopping { throw ServingError.shuttingDown }
        if waiting.count >= maxWaiting { throw ServingError.queueFull(waiting: waiting.count) }
        nextID += 1
        let id = nextID
        let s = job.sampling
        let key = BatchKey(temperature: s.temperature, topK: s.topK, topP: s.topP, repetitionPenalty: s.repetitionPenalty,
                           maxNewTokens: job.maxNewTokens, stopStrings: job.stopStrings,
                           alone: !s.isGreedy && job.seed != nil ? id : nil)
        let entry = Entry(id: id, job: job, key: key, continuation: continuation)
        continuation.onTermination = { [weak self, weak entry] _ in
            guard let self, let entry else { return }
            self.condition.lock()
            entry.cancelled = true
            self.condition.unlock()
        }
        waiting.append(entry)
        condition.broadcast()
        return stream
    }

    /// Refuses new jobs, lets the worker finish every job already submitted, and waits for it.
    public func stop() {
        condition.lock()
        let first = !stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        if first { finished.wait() }
    }

    // MARK: The worker

    private func work() {
        while let batch = nextBatch() {
            run(batch)
            if BufferPool.heldBytes > retainedPoolBytes { BufferPool.trim() }
            condition.lock()
            running = 0
            condition.unlock()
        }
        finished.signal()
    }

    /// The next batch (oldest job first, then its batch-mates), or nil once stopping with nothing left.
    private func nextBatch() -> [Entry]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            withdrawn += waiting.filter(\.cancelled).count
            waiting.removeAll { $0.cancelled }
            if let head = waiting.first {
                // Give concurrent requests a moment to arrive, so they share this batch.
                let deadline = Date(timeIntervalSinceNow: batchWindow)
                while !stopping && batchWindow > 0 && waiting.filter({ $0.key == head.key && !$0.cancelled }).count < maxBatchSize {
                    if !condition.wait(until: deadline) { break }
                }
                var batch: [Entry] = []
                waiting.removeAll { entry in
                    guard !entry.cancelled, entry.key == head.key, batch.count < maxBatchSize else { return false }
                    batch.append(entry)
                    return true
                }
                if batch.isEmpty { continue }  // the head was withdrawn while waiting
                running = batch.count
                batches += 1
                rows += batch.count
                return batch
            }
            if stopping { return nil }
            condition.wait()
        }
    }

    /// Generates one batch, sending each row's text to its own job as it becomes final.
    private func run(_ batch: [Entry]) {
        let start = DispatchTime.now().uptimeNanoseconds
        let head = batch[0].job
        let options = model.generationOptions(sampling: head.sampling, maxNewTokens: head.maxNewTokens, stopStrings: head.stopStrings)
        // GenerationOptions(card:) always sets `decode` (the card's stop rule needs it).
        let decode = options.decode ?? { _ in "" }
        var streams = batch.map { _ in TextStream(decode: decode, stopStrings: options.stopStrings) }
        var rng = RNG(seed: head.seed ?? UInt64.random(in: 0...UInt64.max))
        let rows: [GeneratedRow]
        do {
            rows = try Generator.generateRows(model: model.model, parameters: model.parameters, prompts: batch.map(\.job.prompt),
                                              options: options, rng: &rng, weights: model.decodingWeights) { r, token in
                let piece = streams[r].append(token)
                if !piece.isEmpty { batch[r].continuation.yield(.text(piece)) }
            }
        } catch {
            for entry in batch {
                entry.continuation.yield(.failed(.generationFailed(reason: "\(error)")))
                entry.continuation.finish()
            }
            return
        }
        let end = DispatchTime.now().uptimeNanoseconds
        for (r, entry) in batch.enumerated() {
            let rest = streams[r].finish()
            if !rest.isEmpty { entry.continuation.yield(.text(rest)) }
            let summary = GenerationSummary(
                text: streams[r].text, promptTokens: entry.job.prompt.count, completionTokens: rows[r].tokens.count,
                stopReason: rows[r].stopReason, batchSize: batch.count,
                queuedSeconds: Double(start - min(start, entry.submitted)) / 1e9, generationSeconds: Double(end - start) / 1e9)
            entry.continuation.yield(.finished(summary))
            entry.continuation.finish()
        }
    }
}
