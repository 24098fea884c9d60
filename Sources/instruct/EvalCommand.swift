import ArgumentParser
import Autograd
import Datasets
import Evaluation
import Foundation
import Inference
import Recipes
import Synth
import Training

/// `instruct eval`: measure a checkpoint on a data file (default), or score IFEval responses.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a checkpoint: loss, perplexity, generated answers, checkable accuracy; score IFEval.",
        subcommands: [EvalCheckpointCommand.self, EvalIFEvalCommand.self],
        defaultSubcommand: EvalCheckpointCommand.self)
}

/// `instruct eval CKPT --data FILE`.
struct EvalCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Validation loss and perplexity on a data file; optionally answers and accuracy.",
        discussion: """
            The file is read with the checkpoint's recipe settings (format, columns, template,
            system prompt, seq_len, packing, loss masks, length policy) and every example is
            scored, as training scores its validation split. --generate writes one greedy
            answer per record to a JSONL file. --synth (automatic when the records carry a
            `check` field, as `instruct data synth` writes) answers every record greedily and
            reports accuracy overall and per family.

            Examples:
              instruct eval checkpoints/quickstart --data datasets/synth/heldout.jsonl
              instruct eval checkpoints/quickstart --data datasets/synth/heldout.jsonl \\
                  --limit 100 --json
              instruct eval checkpoints/quickstart --data my_val.jsonl \\
                  --generate answers.jsonl
            """)

    @Argument(help: "A checkpoint directory (step-NNNNNNN), a run directory (its latest), or a run's latest file.")
    var checkpoint: String
    @Option(help: "The data file (JSONL or JSON array, any format training reads).")
    var data: String
    @Flag(help: "Print the metrics as one JSON object.")
    var json = false
    @Option(name: .customLong("generate"), help: "Write one greedy answer per record to this JSONL file.")
    var generateOut: String?
    @Flag(help: "Score answers with the records' checkers (default: when the records have a `check` field).")
    var synth = false
    @Flag(help: "Do not score answers even when the records have a `check` field.")
    var noSynth = false
    @Option(help: "Answer and score only the first N records (for --synth and --generate; the loss uses all).")
    var limit: Int?
    @Option(help: "Most tokens per answer (default: the recipe's eval.max_new_tokens).")
    var maxNewTokens: Int?
    @Option(help: "Prompts per generation batch.")
    var batchSize = 16
    @Option(help: "BLAS threads.")
    var threads = 2
    @Flag(help: "Skip checksum verification of the checkpoint.")
    var noVerify = false

    func validate() throws {
        try validateThreads(threads)
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let n = maxNewTokens, n < 1 { throw ValidationError("--max-new-tokens must be at least 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if synth && noSynth { throw ValidationError("--synth and --no-synth contradict each other") }
    }

    func run() throws {
        try reportingErrors { try evaluate() }
    }

    private func evaluate() throws {
        BLAS.setThreadCount(threads)
        let loaded = try LoadedModel.open(path: checkpoint, verify: !noVerify)
        let settings = try EvaluationSettings.of(loaded)
        var metrics: [String: Any] = ["checkpoint": loaded.directory.path, "data": data]
        if let step = loaded.step { metrics["step"] = step }
        if !json { print("checkpoint \(loaded.directory.path)" + (loaded.step.map { " (step \($0))" } ?? "")) }

        let t0 = Date()
        let loss = try loaded.evaluateLoss(path: data, like: settings.data, batchSize: settings.batchSize)
        metrics["loss"] = loss.loss
        metrics["perplexity"] = loss.perplexity
        metrics["tokens"] = loss.tokens
        metrics["records"] = loss.records
        metrics["examples"] = loss.examples
        metrics["skipped"] = loss.skipped
        metrics["dropped"] = loss.dropped
        metrics["truncated"] = loss.truncated
        metrics["loss_seconds"] = Date().timeIntervalSince(t0)
        if !json {
            print("data \(data): \(loss.records) records, \(loss.examples) examples in \(loss.rows) rows "
                  + "(\(loss.skipped) skipped, \(loss.dropped) dropped, \(loss.truncated) truncated)")
            print(String(format: "loss %.4f  perplexity %.3f  over %d target tokens", loss.loss, loss.perplexity, loss.tokens))
        }

        let maxNew = maxNewTokens ?? settings.maxNewTokens
        if !noSynth && (synth || Self.hasCheckField(data)) {
            var records = try SynthFiles.load(path: data)
            if let limit { records = Array(records.prefix(limit)) }
            let t1 = Date()
            let (score, responses) = try SynthEvaluation.evaluate(model: loaded.model, parameters: loaded.parameters,
                                                                  encoder: loaded.encoder, card: loaded.card, records: records,
                                                                  maxNewTokens: maxNew, batchSize: batchSize)
            metrics["accuracy"] = score.overall.accuracy
            metrics["correct"] = score.overall.correct
            metrics["scored"] = score.overall.total
            var per: [String: Any] = [:]
            for f in score.families {
                per[f.family.rawValue] = ["accuracy": f.tally.accuracy, "correct": f.tally.correct, "total": f.tally.total]
            }
            metrics["per_family"] = per
            metrics["generate_seconds"] = Date().timeIntervalSince(t1)
            if !json {
                print(String(format: "accuracy %.1f%% (%d of %d)", score.overall.accuracy * 100, score.overall.correct, score.overall.total))
                for f in score.families {
                    let name = f.family.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                    print("  " + name + String(format: " %5.1f%%  (%d of %d)", f.tally.accuracy * 100, f.tally.correct, f.tally.total))
                }
            }
            if let out = generateOut {
                let lines = try zip(records, responses).map { r, answer in
                    try Self.jsonLine(["instruction": r.instruction, "input": r.input, "prompt": Self.prompt(r.instruction, r.input),
                                       "expected": r.output, "family": r.family.rawValue, "response": answer,
                                       "passed": SynthChecker.score(r, response: answer, formats: IFEvalFormats())])
                }
                try Self.write(lines, to: out)
                if !json { print("wrote \(lines.count) answers to \(out)") }
            }
        } else if let out = generateOut {
            let t1 = Date()
            var answers = try loaded.generateResponses(path: data, like: settings.data, maxNewTokens: maxNew, batchSize: batchSize, limit: limit)
            if let limit { answers = Array(answers.prefix(limit)) }
            let lines = try answers.map { a -> String in
                var object: [String: Any] = ["response": a.response, "stop": a.stopReason.rawValue,
                                             "source": a.record.location.describe(in: a.record.path)]
                switch a.record.content {
                case let .instruction(instruction, input, response):
                    object["instruction"] = instruction
                    object["input"] = input
                    object["prompt"] = Self.prompt(instruction, input)
                    object["expected"] = response
                case let .chat(messages):
                    let last = messages.lastIndex { $0.role == .assistant } ?? messages.count
                    object["messages"] = messages[..<last].map { ["role": $0.role.rawValue, "content": $0.content] }
                    object["prompt"] = messages[..<last].last { $0.role == .user }?.content ?? ""
                    object["expected"] = last < messages.count ? messages[last].content : ""
                case let .text(text):
                    // A text record is trained on whole: the model answers from nothing.
                    object["prompt"] = ""
                    object["expected"] = text
                }
                return try Self.jsonLine(object)
            }
            try Self.write(lines, to: out)
            metrics["generated"] = lines.count
            metrics["generate_seconds"] = Date().timeIntervalSince(t1)
            if !json { print("wrote \(lines.count) answers to \(out)") }
        }

        if json {
            let data = try JSONSerialization.data(withJSONObject: metrics, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// The instruction and input as one prompt text (a blank line between).
    static func prompt(_ instruction: String, _ input: String) -> String {
        input.isEmpty ? instruction : instruction + "\n\n" + input
    }

    /// Whether the first record of a JSONL file has a `check` field (a synth record).
    static func hasCheckField(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 1 << 16)
        for line in head.split(separator: 0x0A) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return false }
            return object["check"] != nil
        }
        return false
    }

    static func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    static func write(_ lines: [String], to path: String) throws {
        do {
            try Data((lines.map { $0 + "\n" }.joined()).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CommandFailure("\(path): cannot write (\(error.localizedDescription))")
        }
    }
}

/// `instruct eval ifeval --responses R.jsonl`.
struct EvalIFEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ifeval",
        abstract: "Score responses to IFEval prompts: prompt- and instruction-level accuracy, strict and loose.",
        discussion: """
            R.jsonl holds one JSON object per line with `prompt` (the IFEval prompt, verbatim)
            and `response`. All 25 IFEval instruction ids are checked (sentence counting,
            word tokenization and language detection by Swift stand-ins for NLTK and
            langdetect, see docs/evaluation.md); an unknown id in --input is an error naming
            its line. Responses whose prompt is not in --input are reported and not scored.

            With --checkpoint, the prompts are first answered greedily by that checkpoint
            (each rendered with its template as an instruction) and written to --responses.

            Examples:
              instruct eval ifeval --responses answers.jsonl \\
                  --input ../shared/datasets/ifeval/input_data.jsonl
              instruct eval ifeval --checkpoint checkpoints/quickstart \\
                  --responses answers.jsonl --input input_data.jsonl
              instruct eval ifeval --responses answers.jsonl --input input_data.jsonl \\
                  --json
            """)

    @Option(help: "Responses: JSONL with `prompt` and `response` (written first with --checkpoint).")
    var responses: String
    @Option(help: "IFEval's input_data.jsonl (key, prompt, instruction_id_list, kwargs).")
    var input = "datasets/ifeval/input_data.jsonl"
    @Flag(help: "Print the report as one JSON object.")
    var json = false
    @Option(help: "Answer the IFEval prompts with this checkpoint first (greedy), writing --responses.")
    var checkpoint: String?
    @Option(help: "With --checkpoint: most tokens per answer.")
    var maxNewTokens = 256
    @Option(help: "With --checkpoint: prompts per generation batch.")
    var batchSize = 16
    @Option(help: "With --checkpoint: answer only the first N prompts.")
    var limit: Int?
    @Option(help: "BLAS threads.")
    var threads = 2

    func validate() throws {
        try validateThreads(threads)
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if maxNewTokens < 1 { throw ValidationError("--max-new-tokens must be at least 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            if let checkpoint { try answer(checkpoint) }
            try score()
        }
    }

    /// Answers every IFEval prompt (rendered with the checkpoint's template as an
    /// instruction) and writes `{"prompt", "response"}` lines to --responses. A prompt too
    /// long for the context gets an empty response, which follows no instruction.
    private func answer(_ checkpoint: String) throws {
        BLAS.setThreadCount(threads)
        if !FileManager.default.fileExists(atPath: input) {
            throw CommandFailure("\(input): no such file; pass --input PATH to IFEval's input_data.jsonl")
        }
        var prompts = try IFEval.loadPrompts(path: input)
        if let limit { prompts = Array(prompts.prefix(max(0, limit))) }
        let loaded = try LoadedModel.open(path: checkpoint)
        let tokens = try prompts.map { try loaded.encoder.promptTokens(.instruction(instruction: $0.prompt, input: "", response: "")) }
        let context = loaded.model.config.contextLength
        let fits = tokens.indices.filter { tokens[$0].count < context }
        let answers = try loaded.answers(prompts: fits.map { tokens[$0] }, maxNewTokens: maxNewTokens, batchSize: batchSize)
        var responses = [String](repeating: "", count: prompts.count)
        for (i, a) in zip(fits, answers) { responses[i] = a.text }
        let lines = try zip(prompts, responses).map { try EvalCheckpointCommand.jsonLine(["prompt": $0.prompt, "response": $1]) }
        try EvalCheckpointCommand.write(lines, to: self.responses)
        if !json {
            print("wrote \(lines.count) responses to \(self.responses) (\(prompts.count - fits.count) prompts longer than the context of \(context) tokens answered with nothing)")
        }
    }

    private func score() throws {
        if !FileManager.default.fileExists(atPath: input) {
            throw CommandFailure("\(input): no such file; pass --input PATH to IFEval's input_data.jsonl")
        }
        let prompts = try IFEval.loadPrompts(path: input)
        let lines = try IFEval.loadResponseLines(path: responses)
        let known = Set(prompts.map(\.prompt))
        let unknown = lines.filter { !known.contains($0.prompt) }
        if unknown.count == lines.count {
            throw CommandFailure("\(responses): none of its \(lines.count) prompts matches a prompt of \(input); responses must repeat the IFEval prompt verbatim in `prompt`")
        }
        // A response whose prompt is not in the input is not scored; say where it is.
        for r in unknown.prefix(3) {
            let head = r.prompt.prefix(60).replacingOccurrences(of: "\n", with: " ")
            warn("\(responses):\(r.line): field `prompt` (\"\(head)\(r.prompt.count > 60 ? "..." : "")\") is not a prompt of \(input); this response is not scored (the prompt must be repeated verbatim)")
        }
        if unknown.count > 3 { warn("\(responses): \(unknown.count - 3) more responses with a prompt not in \(input) are not scored") }
        var answers: [String: String] = [:]
        for r in lines { answers[r.prompt] = r.response }
        let report = try IFEval.score(prompts: prompts, responses: answers)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            print(String(decoding: try e.encode(report), as: UTF8.self))
            return
        }
        print("IFEval: \(report.prompts) prompts, \(report.instructions) instructions scored; "
              + "\(report.missingResponses) prompts without a response, \(report.emptyResponses) empty responses (they follow nothing), "
              + "\(unknown.count) responses to prompts not in the input")
        for (name, a) in [("strict", report.strict), ("loose", report.loose)] {
            print(String(format: "%@  prompt-level %.1f%% (%d/%d)  instruction-level %.1f%% (%d/%d)", name,
                         a.promptLevel * 100, a.promptsFollowed, report.prompts,
                         a.instructionLevel * 100, a.instructionsFollowed, report.instructions))
        }
        print("per instruction (strict, loose, total):")
        for id in report.perInstruction.keys.sorted() {
            let v = report.perInstruction[id] ?? [0, 0, 0]
            print("  " + id.padding(toLength: 46, withPad: " ", startingAt: 0) + " \(v[0])  \(v[1])  \(v[2])")
        }
    }
}
