import Autograd
import Dispatch
import Models
import NN

/// What one `Generator.generate` call does besides choosing tokens: how long, and when to stop.
public struct GenerationOptions {
    /// How each next token is chosen (greedy by default).
    public var sampling: SamplingOptions
    /// Most tokens generated per row (a row also stops when its context is full).
    public var maxNewTokens: Int
    /// End-of-sequence ids: a row that picks one stops; the id itself is not returned.
    public var eosTokenIDs: Set<Int32>
    /// A row stops once the decoded text of its generated tokens contains one of these.
    /// The tokens up to and including the one that completed the string are returned (a
    /// stop string may end inside a token, so nothing is cut). Needs `decode`.
    public var stopStrings: [String]
    /// Turns generated token ids into text, for stop strings (the model does not know the
    /// tokenizer: pass `tokenizer.decode`).
    public var decode: (([Int32]) -> String)?
    /// The id written into left-padding slots and fed to finished rows. Never attended by
    /// real tokens, so any valid id works.
    public var padTokenID: Int32

    public init(sampling: SamplingOptions = .greedy, maxNewTokens: Int = 128, eosTokenIDs: Set<Int32> = [],
                stopStrings: [String] = [], decode: (([Int32]) -> String)? = nil, padTokenID: Int32 = 0) {
        self.sampling = sampling
        self.maxNewTokens = maxNewTokens
        self.eosTokenIDs = eosTokenIDs
        self.stopStrings = stopStrings
        self.decode = decode
        self.padTokenID = padTokenID
    }
}

/// Why a row stopped generating.
public enum StopReason: String, Codable, Sendable, Equatable {
    /// It picked an end-of-sequence id.
    case eos
    /// Its text came to contain a stop string.
    case stopString
    /// It generated `maxNewTokens` tokens.
    case maxNewTokens
    /// Its prompt plus output filled the model's context length.
    case contextFull
}

/// One row's output: the generated ids (no prompt, no EOS) and why it stopped.
public struct GeneratedRow: Sendable, Equatable {
    public var tokens: [Int32]
    public var stopReason: StopReason

    public init(tokens: [Int32], stopReason: StopReason) {
        self.tokens = tokens
        self.stopReason = stopReason
    }
}

/// Bad input to generation: thrown, never trapped. Cases name the row and the limit.
public enum GenerationError: Error, Equatable, CustomStringConvertible {
    case invalidOptions([String])
    case emptyPrompt(row: Int)
    case promptTooLong(row: Int, length: Int, contextLength: Int)
    case tokenOutOfVocabulary(row: Int, token: Int32, vocabSize: Int)
    case stopStringsNeedDecode

    public var description: String {
        switch self {
        case let .invalidOptions(problems):
            return "invalid generation options: " + problems.joined(separator: "; ")
        case let .emptyPrompt(row):
            return "prompt \(row) has no tokens; generation needs at least one (for example a BOS token)"
        case let .promptTooLong(row, length, contextLength):
            return "prompt \(row) has \(length) tokens but the model's context length is \(contextLength); shorten it"
        case let .tokenOutOfVocabulary(row, token, vocabSize):
            return "prompt \(row) holds token id \(token), outside the vocabulary of \(vocabSize); tokenizer and model do not match"
        case .stopStringsNeedDecode:
            return "stop strings need a decode function to turn token ids into text"
        }
    }
}

/// Batched autoregressive generation with a key/value cache.
///
/// Prompts of different lengths are left-padded to the longest and prefilled in one call;
/// then every step feeds each row's last token (n = 1) and picks the next. Positions are
/// per row and start at 0 at the row's first real token, so a row's tokens do not depend
/// on the other rows: with greedy decoding a batch gives what each prompt gives alone (up
/// to float rounding in exact ties). Sampled rows draw from one `RNG` in row order, so a
/// seed reproduces the whole batch, but a row's draws depend on which other rows are
/// still running. Finished rows keep being fed a pad token until all are done.
public enum Generator {
    /// Generated ids per row (prompt not included), greedy by default. `onToken(row, id)` is
    /// called for every returned id as soon as it is chosen (streaming).
    public static func generate(model: DecoderModel, parameters: Parameters, prompts: [[Int32]],
                                options: GenerationOptions = GenerationOptions(), rng: inout RNG,
                                weights: DecodingWeights? = nil,
                                onToken: ((Int, Int32) -> Void)? = nil) throws -> [[Int32]] {
        try generateRows(model: model, parameters: parameters, prompts: prompts, options: options, rng: &rng,
                         weights: weights, onToken: onToken).map(\.tokens)
    }

    /// Decoded answers to `prompts`, in batches of `batchSize` sorted by length (so a batch
    /// wastes little padding; greedy rows do not depend on their batch-mates), each cut at
    /// the first of `options.stopStrings` (which need `options.decode`). The one "sort,
    /// batch, generate, decode" routine behind eval, eval.synth, eval.samples and IFEval
    /// answers. Sampled rows draw from `rng` in batch order.
    public static func answers(model: DecoderModel, parameters: Parameters, prompts: [[Int32]], options: GenerationOptions,
                               batchSize: Int, rng: inout RNG, weights: DecodingWeights? = nil) throws -> [Answer] {
        guard let decode = options.decode else { throw GenerationError.stopStringsNeedDecode }
        let order = prompts.indices.sorted { (prompts[$0].count, $0) < (prompts[$1].count, $1) }
        var out = [Answer](repeating: Answer(text: "", tokens: [], stopReason: .maxNewTokens), count: prompts.count)
        let step = Swift.max(1, batchSize)
        var start = 0
        while start < order.count {
            let idx = Array(order[start..<Swift.min(start + step, order.count)])
            let rows = try generateRows(model: model, parameters: parameters, prompts: idx.map { prompts[$0] },
                                        options: options, rng: &rng, weights: weights)
            for (i, row) in zip(idx, rows) {
                var stream = TextStream(decode: decode, stopStrings: options.stopStrings)
                for t in row.tokens { _ = stream.append(t) }
                out[i] = Answer(text: stream.text, tokens: row.tokens, stopReason: row.stopReason)
            }
            start += step
        }
        return out
    }

    /// `generate` with a generator seeded by 0: enough for greedy decoding, which draws nothing.
    public static func generate(model: DecoderModel, parameters: Parameters, prompts: [[Int32]],
                                options: GenerationOptions = GenerationOptions(),
                                onToken: ((Int, Int32) -> Void)? = nil) throws -> [[Int32]] {
        var rng = RNG(seed: 0)
        return try generate(model: model, parameters: parameters, prompts: prompts, options: options, rng: &rng,
                            onToken: onToken)
    }

    /// Like `generate`, and also says why each row stopped.
    ///
    /// `weights` (from `DecoderModel.decodingWeights`, for example Q8_0) are what the model
    /// computes with; without them a Llama decodes from `p`'s float32 weights through the same
    /// fast path (`DecoderModel.logits(appending:positions:cache:weights:lastOnly:)`), and a
    /// GPT-2 or a model with unmerged adapters through the generic one.
    public static func generateRows(model: DecoderModel, parameters p: Parameters, prompts: [[Int32]],
                                    options: GenerationOptions, rng: inout RNG, weights: DecodingWeights? = nil,
                                    onToken: ((Int, Int32) -> Void)? = nil) throws -> [GeneratedRow] {
        let config = model.config, ctx = config.contextLength, vocab = config.vocabSize
        var problems = options.sampling.problems()
        if options.maxNewTokens < 0 { problems.append("max_new_tokens must be >= 0 (got \(options.maxNewTokens))") }
        if options.padTokenID < 0 || Int(options.padTokenID) >= vocab {
            problems.append("pad token id \(options.padTokenID) is outside the vocabulary of \(vocab)")
        }
        if !problems.isEmpty { throw GenerationError.invalidOptions(problems) }
        if !options.stopStrings.isEmpty && options.decode == nil { throw GenerationError.stopStringsNeedDecode }
        for (r, prompt) in prompts.enumerated() {
            if prompt.isEmpty { throw GenerationError.emptyPrompt(row: r) }
            if prompt.count > ctx { throw GenerationError.promptTooLong(row: r, length: prompt.count, contextLength: ctx) }
            if let bad = prompt.first(where: { $0 < 0 || Int($0) >= vocab }) {
                throw GenerationError.tokenOutOfVocabulary(row: r, token: bad, vocabSize: vocab)
            }
        }
        let b = prompts.count
        if b == 0 { return [] }
        if options.maxNewTokens == 0 { return prompts.map { _ in GeneratedRow(tokens: [], stopReason: .maxNewTokens) } }

        // Row r may generate up to ctx - len(r) tokens, so that prompt + output fits in the context.
        let lengths = prompts.map(\.count), longest = lengths.max()!  // prompts is not empty
        let steps = Swift.min(options.maxNewTokens, ctx - lengths.min()!)  // prompts is not empty
        let offsets = lengths.map { longest - $0 }
        var cache = model.makeCache(batch: b, capacity: longest + Swift.max(steps - 1, 0), startOffsets: offsets)

        // Prefill: left-padded prompts [B, longest]; padding slots get position 0.
        var tokens: [Int32] = [], positions: [Int32] = []
        for r in 0..<b {
            tokens += [Int32](repeating: options.padTokenID, count: offsets[r]) + prompts[r]
            positions += [Int32](repeating: 0, count: offsets[r]) + (0..<lengths[r]).map { Int32($0) }
        }
        // Parameters that do not fit the decoding path exactly (extra tensors) keep the generic path.
        let fast = weights ?? (model.hasDecodingPath ? try? model.decodingWeights(p, format: .f32) : nil)
        func forward(_ tokens: [Int32], _ positions: [Int32]) -> Tensor {
            if let fast { return model.logits(appending: tokens, positions: positions, cache: &cache, weights: fast, lastOnly: true) }
            return model.logits(appending: tokens, positions: positions, cache: &cache, parameters: p)
        }
        var logits = forward(tokens, positions)
        // Row of `logits` holding each row's next-token logits (the fast path returns only those).
        var lastRow = (0..<b).map { fast != nil ? $0 : $0 * longest + longest - 1 }

        // A prompt that fills the context leaves no room: prompt + output must fit in it.
        var rows = lengths.map { GeneratedRow(tokens: [], stopReason: $0 >= ctx ? .contextFull : .maxNewTokens) }
        var history = prompts    // prompt + output per row, for the repetition penalty
        var done = lengths.map { $0 >= ctx }
        for step in 0..<steps {
            for r in 0..<b where !done[r] {
                let z = logits.withUnsafeBufferPointer { Array($0[(lastRow[r] * vocab)..<((lastRow[r] + 1) * vocab)]) }
                let token = Sampler.next(logits: z, previous: history[r], options: options.sampling, rng: &rng)
                if options.eosTokenIDs.contains(token) {
                    done[r] = true
                    rows[r].stopReason = .eos
                    continue
                }
                rows[r].tokens.append(token)
                history[r].append(token)
                onToken?(r, token)
                if let decode = options.decode, !options.stopStrings.isEmpty {
                    let text = decode(rows[r].tokens)
                    if options.stopStrings.contains(where: { !$0.isEmpty && text.contains($0) }) {
                        done[r] = true
                        rows[r].stopReason = .stopString
                        continue
                    }
                }
                if rows[r].tokens.count >= options.maxNewTokens {
                    done[r] = true
                    rows[r].stopReason = .maxNewTokens
                } else if lengths[r] + rows[r].tokens.count >= ctx {
                    done[r] = true
                    rows[r].stopReason = .contextFull
                }
            }
            if step == steps - 1 || done.allSatisfy({ $0 }) { break }
            // Decode step: each running row feeds its last token; finished rows feed padding at
            // their last position (valid, and close to the others': RoPE's table spans min...max).
            tokens = (0..<b).map { done[$0] ? options.padTokenID : rows[$0].tokens[rows[$0].tokens.count - 1] }
            positions = (0..<b).map { Int32(Swift.max(0, lengths[$0] + rows[$0].tokens.count - 1)) }
            logits = forward(tokens, positions)
            lastRow = Array(0..<b)
        }
        return rows
    }
}

/// One decoded answer: its text (cut at the first stop string), its ids and why it stopped.
public struct Answer: Sendable, Equatable {
    public var text: String
    public var tokens: [Int32]
    public var stopReason: StopReason

    public init(text: String, tokens: [Int32], stopReason: StopReason) {
        self.text = text
        self.tokens = tokens
        self.stopReason = stopReason
    }
}
