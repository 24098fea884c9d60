import Datasets
import Foundation
import Recipes
import Training
import XCTest

/// `instruct generate`, `chat` and `eval` run as a user runs them, on one tiny trained run.
final class GenerateEvalCommandLineTests: XCTestCase {
    typealias Result = CLI.Result

    static var shared: URL?

    func run(_ args: [String], in dir: URL, stdin: String? = nil) throws -> Result {
        try CLI.run(args, in: dir, stdin: stdin)
    }

    /// A directory with synth data and a 5-step run in `run/`.
    func trainedDir() throws -> URL {
        if let d = Self.shared { return d }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let synth = try run(["data", "synth", "--out", "synth", "--seed", "3", "--train", "300", "--heldout", "24"], in: dir)
        XCTAssertEqual(synth.status, 0, synth.err)
        let recipe = """
            seed: 2
            tokenizer: {train: {vocab_size: 300}}
            data:
              datasets: [{path: synth/train.jsonl, template: plain}]
              seq_len: 64
              cache_dir: null
            model: {dim: 32, layers: 1, heads: 2}
            training: {batch_size: 4, max_steps: 5, threads: 1, warmup_steps: 0, lr: 1e-3}
            output: {dir: run}
            """
        try recipe.write(to: dir.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        let train = try run(["train", "r.yaml"], in: dir)
        XCTAssertEqual(train.status, 0, train.err)
        Self.shared = dir
        return dir
    }

    func test_generate_greedy_equalsGeneratorOnTemplatePrompt() throws {
        let dir = try trainedDir()
        let r = try run(["generate", "run", "--prompt", "Sort the numbers.", "--input", "3 1 2", "--max-new-tokens", "12",
                         "--threads", "1"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("generated"), r.err)
        let loaded = try LoadedModel.load(path: dir.appendingPathComponent("run").path)
        let prompt = loaded.encoder.promptTokens(.instruction(instruction: "Sort the numbers.", input: "3 1 2", response: ""))
        let tokens = try Generator.generate(model: loaded.model, parameters: loaded.parameters, prompts: [prompt],
                                            options: loaded.generationOptions(maxNewTokens: 12))[0]
        XCTAssertEqual(r.out, loaded.tokenizer.decode(tokens) + "\n")

        let raw = try run(["generate", "run", "--raw", "--prompt", "Sort", "--max-new-tokens", "5", "--threads", "1"], in: dir)
        XCTAssertEqual(raw.status, 0, raw.err)
        var rawPrompt = loaded.tokenizer.encode("Sort", allowSpecial: false)
        if let bos = loaded.tokenizer.bosTokenID { rawPrompt.insert(bos, at: 0) }
        let rawTokens = try Generator.generate(model: loaded.model, parameters: loaded.parameters, prompts: [rawPrompt],
                                               options: loaded.generationOptions(maxNewTokens: 5))[0]
        XCTAssertEqual(raw.out, loaded.tokenizer.decode(rawTokens) + "\n")
    }

    func test_chat_pipe_handlesResetSystemAndExit() throws {
        let dir = try trainedDir()
        let r = try run(["chat", "run", "--max-new-tokens", "4", "--threads", "1"], in: dir,
                        stdin: "Sort 3 1 2\n/reset\n/system Answer briefly.\nAdd 2 and 3\n/bogus\n/exit\n/reset\nnever read\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out.components(separatedBy: "[conversation reset]").count, 2, "one /reset before /exit: \(r.out)")
        XCTAssertTrue(r.out.contains("[system prompt set; conversation reset]"), r.out)
        XCTAssertTrue(r.out.contains("[unknown command /bogus"), r.out)
        let eof = try run(["chat", "run", "--max-new-tokens", "2", "--threads", "1"], in: dir, stdin: "hello\n")
        XCTAssertEqual(eof.status, 0, "end of input ends the chat: \(eof.err)")
    }

    func test_eval_synthJSON_reportsLossAccuracyAndWritesAnswers() throws {
        let dir = try trainedDir()
        let r = try run(["eval", "run", "--data", "synth/heldout.jsonl", "--json", "--limit", "6", "--max-new-tokens", "8",
                         "--generate", "answers.jsonl", "--threads", "1"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
        let loss = try XCTUnwrap(object["loss"] as? Double)
        XCTAssertTrue(loss > 0 && loss.isFinite)
        XCTAssertEqual(object["perplexity"] as? Double ?? 0, exp(loss), accuracy: 1e-9 * exp(loss))
        XCTAssertEqual(object["scored"] as? Int, 6)
        XCTAssertNotNil(object["per_family"] as? [String: Any])
        let answers = try String(contentsOf: dir.appendingPathComponent("answers.jsonl"), encoding: .utf8)
        XCTAssertEqual(answers.split(separator: "\n").count, 6)

        let text = try run(["eval", "run", "--data", "synth/heldout.jsonl", "--no-synth", "--generate", "plain.jsonl",
                            "--limit", "3", "--max-new-tokens", "4", "--threads", "1"], in: dir)
        XCTAssertEqual(text.status, 0, text.err)
        XCTAssertTrue(text.out.contains("perplexity") && text.out.contains("wrote 3 answers"), text.out)
        XCTAssertFalse(text.out.contains("accuracy"), text.out)
    }

    func test_badInputs_exitNonZeroWithClearMessages() throws {
        let dir = try trainedDir()
        let missing = try run(["generate", "no-such-run", "--prompt", "hi"], in: dir)
        XCTAssertTrue(missing.exited)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains("no-such-run"), missing.err)

        let long = String(repeating: "seven apples and ", count: 100)
        let tooLong = try run(["generate", "run", "--prompt", long], in: dir)
        XCTAssertTrue(tooLong.exited)
        XCTAssertNotEqual(tooLong.status, 0)
        XCTAssertTrue(tooLong.err.contains("context"), tooLong.err)

        try "{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"hi\"}\n{\"instruction\": \"Say bye.\", \"input\": \"\", \"output\": \"\"}\n"
            .write(to: dir.appendingPathComponent("empty.jsonl"), atomically: true, encoding: .utf8)
        let empty = try run(["eval", "run", "--data", "empty.jsonl"], in: dir)
        XCTAssertTrue(empty.exited)
        XCTAssertNotEqual(empty.status, 0)
        XCTAssertTrue(empty.err.contains("empty.jsonl") && empty.err.contains("2"), empty.err)

        let noData = try run(["eval", "run", "--data", "nope.jsonl"], in: dir)
        XCTAssertNotEqual(noData.status, 0)
        XCTAssertTrue(noData.err.contains("nope.jsonl"), noData.err)
    }

    func test_evalIFEval_checkpointAnswersThenScores() throws {
        let dir = try trainedDir()
        let input = """
            {"key": 1, "prompt": "Sort 3 1 2. Do not use commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
            {"key": 2, "prompt": "Add 2 and 3, wrapped in double quotes.", "instruction_id_list": ["startend:quotation", "language:response_language"], "kwargs": [{}, {"language": "en"}]}
            {"key": 3, "prompt": "Write a title like <<t>>.", "instruction_id_list": ["detectable_format:title"], "kwargs": [{}]}

            """
        try input.write(to: dir.appendingPathComponent("if_input.jsonl"), atomically: true, encoding: .utf8)
        let r = try run(["eval", "ifeval", "--checkpoint", "run", "--responses", "if_answers.jsonl", "--input", "if_input.jsonl",
                         "--max-new-tokens", "6", "--json", "--threads", "1"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
        XCTAssertEqual(report["prompts"] as? Int, 2)
        XCTAssertEqual(report["skipped_prompts"] as? Int, 1)
        XCTAssertEqual(report["instructions"] as? Int, 3)
        XCTAssertEqual(report["missing_responses"] as? Int, 0)
        let answers = try String(contentsOf: dir.appendingPathComponent("if_answers.jsonl"), encoding: .utf8)
        XCTAssertEqual(answers.split(separator: "\n").count, 3)

        try "{\"prompt\": \"something else\", \"response\": \"x\"}\n".write(to: dir.appendingPathComponent("other.jsonl"), atomically: true, encoding: .utf8)
        let none = try run(["eval", "ifeval", "--responses", "other.jsonl", "--input", "if_input.jsonl"], in: dir)
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.err.contains("other.jsonl"), none.err)
    }
}
