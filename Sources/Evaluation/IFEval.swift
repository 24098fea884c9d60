import Datasets
import Foundation

/// Bad IFEval input: cases name the file, line and field.
public enum IFEvalError: Error, Equatable, CustomStringConvertible {
    case unreadableFile(path: String, reason: String)
    case badLine(path: String, line: Int, reason: String)
    case badKwargs(id: String, key: String, reason: String)
    case unknownInstruction(id: String, suggestion: String?)
    case noResponses(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): return "\(path): cannot read (\(reason))"
        case let .badLine(path, line, reason): return "\(path):\(line): \(reason)"
        case let .badKwargs(id, key, reason): return "instruction \(id): kwarg `\(key)` \(reason)"
        case let .unknownInstruction(id, suggestion):
            return "unknown instruction id `\(id)`" + (suggestion.map { "; did you mean `\($0)`?" } ?? "")
                + " (IFEval has 25 ids, listed in docs/evaluation.md)"
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

/// One line of a responses file.
public struct IFEvalResponse: Equatable {
    /// 1-based line in the file.
    public var line: Int
    public var prompt: String
    public var response: String
}

/// Instruction-following accuracy as Google's IFEval computes it (`evaluation_main.py`),
/// strict and loose, with a checker for each of the 25 instruction ids (`IFEvalChecker`).
/// An id outside those 25 is an error when the prompts are loaded, naming file, line and
/// the closest known id, so a typo never silently lowers or raises a score.
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
        /// Input prompts without a response (not scored).
        public var missingResponses: Int
        /// Scored prompts whose response is empty or blank (it follows no instruction, as in
        /// the reference).
        public var emptyResponses: Int
        /// Per instruction id: followed (strict, loose) and total.
        public var perInstruction: [String: [Int]]
        enum CodingKeys: String, CodingKey {
            case strict, loose, prompts, instructions
            case missingResponses = "missing_responses", emptyResponses = "empty_responses"
            case perInstruction = "per_instruction"
        }
    }

    /// Reads `input_data.jsonl`, building every checker once so that an unknown id or a bad
    /// argument stops here with the file, line and field.
    public static func loadPrompts(path: String) throws -> [IFEvalPrompt] {
        try jsonLines(path).map { line, object in
            func bad(_ reason: String) -> IFEvalError { .badLine(path: path, line: line, reason: reason) }
            guard let prompt = object["prompt"] as? String else { throw bad("`prompt` must be a string") }
            guard let ids = object["instruction_id_list"] as? [String] else {
                throw bad("`instruction_id_list` must be a list of strings")
            }
            guard let list = object["kwargs"] as? [Any] else { throw bad("`kwargs` must be a list of objects, one per instruction id") }
            let kwargs = try list.enumerated().map { i, k -> [String: Any] in
                guard let d = k as? [String: Any] else { throw bad("`kwargs[\(i)]` must be an object (use {} for an instruction without arguments)") }
                return d.filter { !($0.value is NSNull) }
            }
            guard kwargs.count == ids.count else {
                throw bad("`kwargs` has \(kwargs.count) entries for \(ids.count) instruction ids")
            }
            for (i, (id, k)) in zip(ids, kwargs).enumerated() {
                do {
                    _ = try IFEvalChecker.make(id: id, kwargs: k, prompt: prompt)
                } catch let error as IFEvalError {
                    throw bad("`instruction_id_list[\(i)]`: \(error)")
                }
            }
            return IFEvalPrompt(key: (object["key"] as? Int) ?? line, prompt: prompt, instructionIDs: ids, kwargs: kwargs)
        }
    }

    /// Reads a responses file: JSONL objects with string fields `prompt` and `response`
    /// (what `instruct eval ifeval --checkpoint` and Google's scripts write), in file order.
    public static func loadResponseLines(path: String) throws -> [IFEvalResponse] {
        var out: [IFEvalResponse] = []
        for (line, object) in try jsonLines(path) {
            for field in ["prompt", "response"] where !(object[field] is String) {
                let found = object[field] == nil ? "missing" : "not a string"
                throw IFEvalError.badLine(path: path, line: line, reason: "field `\(field)` is \(found); each line needs string fields `prompt` (the IFEval prompt, verbatim) and `response`")
            }
            out.append(IFEvalResponse(line: line, prompt: object["prompt"] as? String ?? "", response: object["response"] as? String ?? ""))
        }
        if out.isEmpty { throw IFEvalError.noResponses(path: path, reason: "no responses (the file is empty)") }
        return out
    }

    /// Reads a responses file as prompt -> response (a later line for the same prompt wins).
    public static func loadResponses(path: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try loadResponseLines(path: path) { out[r.prompt] = r.response }
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

    /// Whether `response` follows each instruction of `prompt`: (strict, loose) per instruction.
    public static func verdicts(_ prompt: IFEvalPrompt, response: String) throws -> [(strict: Bool, loose: Bool)] {
        let variants = looseVariants(response)
        return try zip(prompt.instructionIDs, prompt.kwargs).map { id, kwargs in
            let c = try IFEvalChecker.make(id: id, kwargs: kwargs, prompt: prompt.prompt)
            return (!strip(response).isEmpty && c(response), variants.contains { !strip($0).isEmpty && c($0) })
        }
    }

    /// Scores `responses` (prompt -> response) on `prompts`.
    public static func score(prompts: [IFEvalPrompt], responses: [String: String]) throws -> Report {
        var strictPrompts = 0, loosePrompts = 0, strictInstr = 0, looseInstr = 0
        var scoredPrompts = 0, scoredInstr = 0, missing = 0, empty = 0
        var per: [String: [Int]] = [:]
        for p in prompts {
            guard let response = responses[p.prompt] else {
                missing += 1
                continue
            }
            if strip(response).isEmpty { empty += 1 }
            var allStrict = true, allLoose = true
            for (id, v) in zip(p.instructionIDs, try verdicts(p, response: response)) {
                per[id, default: [0, 0, 0]][0] += v.strict ? 1 : 0
                per[id, default: [0, 0, 0]][1] += v.loose ? 1 : 0
                per[id, default: [0, 0, 0]][2] += 1
                strictInstr += v.strict ? 1 : 0
                looseInstr += v.loose ? 1 : 0
                scoredInstr += 1
                allStrict = allStrict && v.strict
                allLoose = allLoose && v.loose
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
            prompts: scoredPrompts, instructions: scoredInstr, missingResponses: missing, emptyResponses: empty,
            perInstruction: per)
    }

    /// (1-based line, object) for every non-blank line of a JSONL file.
    static func jsonLines(_ path: String) throws -> [(Int, [String: Any])] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw IFEvalError.unreadableFile(path: path, reason: fileReadProblem(path, error))
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
