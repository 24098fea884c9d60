import Foundation

/// Bad IFEval input: cases name the file, line and field.
public enum IFEvalError: Error, Equatable, CustomStringConvertible {
    case unreadableFile(path: String, reason: String)
    case badLine(path: String, line: Int, reason: String)
    case badKwargs(id: String, key: String, reason: String)
    case noResponses(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): return "\(path): cannot read (\(reason))"
        case let .badLine(path, line, reason): return "\(path):\(line): \(reason)"
        case let .badKwargs(id, key, reason): return "instruction \(id): kwarg `\(key)` \(reason)"
        case let .noResponses(path, reason): return "\(path): \(reason)"
        }
    }
}

/// One IFEval prompt: its instructions and their arguments (`input_data.jsonl`).
public struct IFEvalPrompt {
    public var key: Int
    public var prompt: String
    public var instructionIDs: [String]
    /// One dictionary per instruction id, only the keys that checker uses.
    public var kwargs: [[String: Any]]
}

/// Instruction-following accuracy as Google's IFEval computes it (`evaluation_main.py`),
/// strict and loose, over the instruction ids that have a checker (`IFEvalChecker`).
///
/// A prompt counts at prompt level only when every one of its instructions has a checker;
/// prompts with an unsupported id are left out of prompt-level accuracy, and the unsupported
/// instructions out of instruction-level accuracy. Both are reported in `skipped*`, so a
/// number here is comparable to the published one only when nothing was skipped.
public enum IFEval {
    /// Accuracy of one mode (strict or loose).
    public struct Accuracy: Codable, Sendable, Equatable {
        public var promptLevel: Double
        public var instructionLevel: Double
        public var promptsFollowed: Int
        public var instructionsFollowed: Int
        enum CodingKeys: String, CodingKey {
            case promptLevel = "prompt_level", instructionLevel = "instruction_level"
            case promptsFollowed = "prompts_followed", instructionsFollowed = "instructions_followed"
        }
    }

    /// The whole report.
    public struct Report: Codable, Sendable, Equatable {
        public var strict: Accuracy
        public var loose: Accuracy
        /// Prompts and instructions scored.
        public var prompts: Int
        public var instructions: Int
        /// Prompts left out because they hold an unsupported id, and the unsupported instructions.
        public var skippedPrompts: Int
        public var skippedInstructions: Int
        /// Input prompts without a response.
        public var missingResponses: Int
        /// Per instruction id: followed (strict, loose) and total.
        public var perInstruction: [String: [Int]]
        enum CodingKeys: String, CodingKey {
            case strict, loose, prompts, instructions
            case skippedPrompts = "skipped_prompts", skippedInstructions = "skipped_instructions"
            case missingResponses = "missing_responses", perInstruction = "per_instruction"
        }
    }

    /// Reads `input_data.jsonl`.
    public static func loadPrompts(path: String) throws -> [IFEvalPrompt] {
        try jsonLines(path).map { line, object in
            guard let prompt = object["prompt"] as? String else { throw IFEvalError.badLine(path: path, line: line, reason: "`prompt` must be a string") }
            guard let ids = object["instruction_id_list"] as? [String] else {
                throw IFEvalError.badLine(path: path, line: line, reason: "`instruction_id_list` must be a list of strings")
            }
            let kwargs = (object["kwargs"] as? [Any])?.map { ($0 as? [String: Any]) ?? [:] } ?? []
            guard kwargs.count == ids.count else {
                throw IFEvalError.badLine(path: path, line: line, reason: "`kwargs` has \(kwargs.count) entries for \(ids.count) instruction ids")
            }
            return IFEvalPrompt(key: (object["key"] as? Int) ?? line, prompt: prompt, instructionIDs: ids, kwargs: kwargs)
        }
    }

    /// Reads a responses file: JSONL objects with `prompt` and `response` (what
    /// `instruct eval --generate` and Google's scripts write). Returns prompt -> response.
    public static func loadResponses(path: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for (line, object) in try jsonLines(path) {
            guard let prompt = object["prompt"] as? String, let response = object["response"] as? String else {
                throw IFEvalError.badLine(path: path, line: line, reason: "needs string fields `prompt` and `response`")
            }
            out[prompt] = response
        }
        return out
    }

    /// The 8 variants loose scoring tries: the response, minus its first line, last line or
    /// both, and each of those with every `*` removed.
    public static func looseVariants(_ response: String) -> [String] {
        let lines = response.components(separatedBy: "\n")
        let first = strip(lines.dropFirst().joined(separator: "\n"))
        let last = strip(lines.dropLast().joined(separator: "\n"))
        let both = strip(lines.dropFirst().dropLast().joined(separator: "\n"))
        let noStar = { (s: String) in s.replacingOccurrences(of: "*", with: "") }
        return [response, noStar(response), first, last, both, noStar(first), noStar(last), noStar(both)]
    }

    /// Scores `responses` (prompt -> response) on `prompts`.
    public static func score(prompts: [IFEvalPrompt], responses: [String: String]) throws -> Report {
        var strictPrompts = 0, loosePrompts = 0, strictInstr = 0, looseInstr = 0
        var scoredPrompts = 0, scoredInstr = 0, skippedPrompts = 0, skippedInstr = 0, missing = 0
        var per: [String: [Int]] = [:]
        for p in prompts {
            guard let response = responses[p.prompt] else {
                missing += 1
                continue
            }
            var checkers: [IFEvalChecker] = []
            var unsupported = 0
            for (id, kwargs) in zip(p.instructionIDs, p.kwargs) {
                if let c = try IFEvalChecker.make(id: id, kwargs: kwargs, prompt: p.prompt) { checkers.append(c) } else { unsupported += 1 }
            }
            skippedInstr += unsupported
            let variants = looseVariants(response)
            var allStrict = true, allLoose = true
            for c in checkers {
                let s = !strip(response).isEmpty && c(response)
                let l = variants.contains { !strip($0).isEmpty && c($0) }
                per[c.id, default: [0, 0, 0]][0] += s ? 1 : 0
                per[c.id, default: [0, 0, 0]][1] += l ? 1 : 0
                per[c.id, default: [0, 0, 0]][2] += 1
                strictInstr += s ? 1 : 0
                looseInstr += l ? 1 : 0
                scoredInstr += 1
                allStrict = allStrict && s
                allLoose = allLoose && l
            }
            if unsupported > 0 {
                skippedPrompts += 1
                continue
            }
            scoredPrompts += 1
            strictPrompts += allStrict ? 1 : 0
            loosePrompts += allLoose ? 1 : 0
        }
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
        return Report(
            strict: Accuracy(promptLevel: ratio(strictPrompts, scoredPrompts), instructionLevel: ratio(strictInstr, scoredInstr),
                             promptsFollowed: strictPrompts, instructionsFollowed: strictInstr),
            loose: Accuracy(promptLevel: ratio(loosePrompts, scoredPrompts), instructionLevel: ratio(looseInstr, scoredInstr),
                            promptsFollowed: loosePrompts, instructionsFollowed: looseInstr),
            prompts: scoredPrompts, instructions: scoredInstr, skippedPrompts: skippedPrompts,
            skippedInstructions: skippedInstr, missingResponses: missing, perInstruction: per)
    }

    /// (1-based line, object) for every non-blank line of a JSONL file.
    static func jsonLines(_ path: String) throws -> [(Int, [String: Any])] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw IFEvalError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        var out: [(Int, [String: Any])] = []
        for (i, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw IFEvalError.badLine(path: path, line: i + 1, reason: "not a JSON object")
            }
            out.append((i + 1, object))
        }
        return out
    }
}
