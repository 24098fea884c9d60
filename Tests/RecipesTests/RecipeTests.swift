import Datasets
import XCTest
@testable import Recipes

final class RecipeTests: XCTestCase {
    let minimal = """
        tokenizer:
          path: tok/gpt2
        data:
          datasets:
            - path: data/a.jsonl
        """

    func decode(_ yaml: String, _ overrides: [String] = []) throws -> Recipe {
        try Recipe.decode(yaml: yaml, file: "r.yaml", overrides: overrides)
    }

    func expect(_ yaml: String, _ overrides: [String] = [], _ expected: RecipeError,
                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try decode(yaml, overrides), file: file, line: line) { error in
            XCTAssertEqual(error as? RecipeError, expected, file: file, line: line)
        }
    }

    func test_keepBestAndEarlyStopping_readIntoTheOptions_andNeedEvalEvery() throws {
        let r = try decode(minimal, ["training.keep_best=true", "training.early_stopping_patience=3",
                                     "training.early_stopping_min_delta=0.01", "eval.every=20"])
        XCTAssertTrue(r.trainingOptions.keepBest)
        XCTAssertEqual(r.trainingOptions.earlyStoppingPatience, 3)
        XCTAssertEqual(r.trainingOptions.earlyStoppingMinDelta, 0.01)
        XCTAssertTrue(r.resolvedYAML().contains("keep_best: true"), r.resolvedYAML())
        let defaults = try decode(minimal).trainingOptions
        XCTAssertFalse(defaults.keepBest)
        XCTAssertEqual(defaults.earlyStoppingPatience, 0)
        for (override, key) in [("training.early_stopping_patience=2", "training.early_stopping_patience"),
                                ("training.keep_best=true", "training.keep_best")] {
            XCTAssertThrowsError(try decode(minimal, [override])) { error in
                guard case let .invalidValue(_, k, reason)? = error as? RecipeError else { return XCTFail("\(error)") }
                XCTAssertEqual(k, key)
                XCTAssertTrue(reason.contains("eval.every"), reason)
            }
        }
        XCTAssertThrowsError(try decode(minimal, ["training.early_stopping_patience=-1", "eval.every=5"]))
        XCTAssertThrowsError(try decode(minimal, ["training.early_stopping_min_delta=-0.5", "eval.every=5"]))
    }

    func test_outputTensorboard_readsIntoTheOptions() throws {
        XCTAssertTrue(try decode(minimal, ["output.tensorboard=true"]).trainingOptions.tensorBoard)
        XCTAssertFalse(try decode(minimal).trainingOptions.tensorBoard)
        XCTAssertThrowsError(try decode(minimal, ["output.tensorboard=3"]))
    }

    func test_minimalRecipe_getsEveryDefault() throws {
        let r = try decode(minimal)
        XCTAssertEqual(r.seed, 0)
        XCTAssertEqual(r.tokenizer.path, "tok/gpt2")
        XCTAssertEqual(r.data.config.datasets, [DatasetSpec(path: "data/a.jsonl")])
        XCTAssertEqual(r.dataConfig, DataConfig(
            datasets: [DatasetSpec(path: "data/a.jsonl")], seqLen: 512, packing: .pack, lengthPolicy: .truncate,
            trainOnInput: false, chatScope: .allAssistant, onBadRecord: .error, seed: 0, cacheDirectory: "datasets/cache"))
    }

    func test_fullRecipe_readsEveryField() throws {
        let r = try decode("""
            seed: 42
            tokenizer: {path: t.json}
            data:
              seq_len: 1024
              packing: pad
              length_policy: drop
              train_on_input: true
              train_on: last_assistant
              on_bad_record: skip
              seed: 7
              cache_dir: null
              datasets:
                - path: a.jsonl
                  format: alpaca
                  columns: {instruction: question, output: answer}
                  template: chatml
                  weight: 0.5
                  split: 0.1
                  system: Be brief.
                - path: b.jsonl
                  template:
                    user: "[INST] {user} [/INST]"
                    assistant: " {assistant}"
                    eos: false
            """)
        XCTAssertEqual(r.seed, 42)
        let c = r.dataConfig
        XCTAssertEqual(c.seqLen, 1024)
        XCTAssertEqual(c.packing, .pad)
        XCTAssertEqual(c.lengthPolicy, .drop)
        XCTAssertTrue(c.trainOnInput)
        XCTAssertEqual(c.chatScope, .lastAssistant)
        XCTAssertEqual(c.onBadRecord, .skip)
        XCTAssertEqual(c.seed, 7)
        XCTAssertNil(c.cacheDirectory)
        XCTAssertEqual(c.datasets[0], DatasetSpec(
            path: "a.jsonl", format: .alpaca, columns: ColumnMapping(["instruction": "question", "output": "answer"]),
            template: .chatml, weight: 0.5, validationFraction: 0.1, systemPrompt: "Be brief."))
        XCTAssertEqual(c.datasets[1].template, .custom(CustomTemplate(
            system: "{system}\n\n", user: "[INST] {user} [/INST]", assistant: " {assistant}", appendEOS: false)))
    }

    func test_dataSeedUnset_usesRecipeSeed() throws {
        XCTAssertEqual(try decode("seed: 9\n" + minimal).dataConfig.seed, 9)
    }

    func test_unknownTopLevelKey_suggestsClosest() {
        expect(minimal + "\ndta: {}", [], .unknownKey(source: "r.yaml:6", key: "dta", suggestion: "data"))
    }

    func test_misspeltNestedKeys_nameDottedPathAndSuggest() {
        expect(minimal + "\n  seq_lenn: 3", [], .unknownKey(source: "r.yaml:6", key: "data.seq_lenn", suggestion: "data.seq_len"))
        expect(minimal + "\n      wieght: 2", [], .unknownKey(source: "r.yaml:6", key: "data.datasets[0].wieght", suggestion: "data.datasets[0].weight"))
        expect(minimal + "\n      columns: {ouput: a}", [],
               .unknownKey(source: "r.yaml:6", key: "data.datasets[0].columns.ouput", suggestion: "data.datasets[0].columns.output"))
        expect(minimal + "\n  zzzzzzzz: 1", [], .unknownKey(source: "r.yaml:6", key: "data.zzzzzzzz", suggestion: nil))
    }

    func test_wrongTypes_nameKeyAndExpectedType() {
        expect(minimal + "\n  seq_len: abc", [], .wrongType(source: "r.yaml:6", key: "data.seq_len", expected: "an integer", found: "\"abc\""))
        expect(minimal + "\n  train_on_input: 3", [], .wrongType(source: "r.yaml:6", key: "data.train_on_input", expected: "true or false", found: "\"3\""))
        expect(minimal + "\n      weight: [1]", [], .wrongType(source: "r.yaml:6", key: "data.datasets[0].weight", expected: "a number", found: "a list"))
        expect("tokenizer: {path: t}\ndata: {datasets: a.jsonl}", [], .wrongType(source: "r.yaml:2", key: "data.datasets", expected: "a list", found: "\"a.jsonl\""))
        expect("tokenizer: 3\n", [], .wrongType(source: "r.yaml:1", key: "tokenizer", expected: "a mapping of keys", found: "\"3\""))
        expect(minimal + "\nseed: -1", [], .wrongType(source: "r.yaml:6", key: "seed", expected: "a non-negative integer", found: "\"-1\""))
    }

    func test_enumValues_areChecked_withSuggestion() {
        expect(minimal + "\n  packing: packd", [], .invalidValue(source: "r.yaml:6", key: "data.packing", reason: "\"packd\" is not one of pack, pad; did you mean pack?"))
        expect(minimal + "\n      format: jsonl", [], .invalidValue(
            source: "r.yaml:6", key: "data.datasets[0].format",
            reason: "\"jsonl\" is not one of auto, alpaca, dolly, prompt_completion, text, messages, sharegpt, preference"))
    }

    func test_templates_unknownName_andBadCustom() {
        XCTAssertThrowsError(try decode(minimal + "\n      template: chatlm")) { error in
            guard case let .invalidValue(_, key, reason)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "data.datasets[0].template")
            XCTAssertTrue(reason.hasSuffix("did you mean chatml?"), reason)
        }
        expect(minimal + "\n      template: {user: \"U\", assistant: \"{assistant}\"}", [],
               .invalidValue(source: "r.yaml:6", key: "data.datasets[0].template.user", reason: "must contain {user} exactly once (found 0)"))
        expect(minimal + "\n      template: {user: \"{user}\"}", [], .missingKey(source: "r.yaml:6", key: "data.datasets[0].template.assistant"))
        expect(minimal + "\n      template: {user: \"{user}\", assistant: \"{assistant}\", eso: true}", [],
               .unknownKey(source: "r.yaml:6", key: "data.datasets[0].template.eso", suggestion: "data.datasets[0].template.eos"))
    }

    func test_missingRequiredKeys_areNamed() {
        expect("data:\n  datasets:\n    - path: a\n", [], .missingKey(source: "r.yaml:1", key: "tokenizer.path"))
        expect("tokenizer: {path: t}\n", [], .missingKey(source: "r.yaml:1", key: "data.datasets"))
        expect("tokenizer: {path: t}\ndata:\n  datasets:\n    - weight: 1\n", [], .missingKey(source: "r.yaml:4", key: "data.datasets[0].path"))
    }

    func test_outOfRangeValues_areNamed() {
        expect(minimal + "\n  seq_len: 1", [], .invalidValue(source: "r.yaml:6", key: "data.seq_len", reason: "must be at least 2, got 1"))
        expect(minimal + "\n      split: 1", [], .invalidValue(source: "r.yaml:6", key: "data.datasets[0].split", reason: "must be below 1.0, got 1"))
        expect(minimal + "\n      weight: -2", [], .invalidValue(source: "r.yaml:6", key: "data.datasets[0].weight", reason: "must be in 0.0...1000000.0, got -2"))
    }

    func test_invalidYAML_andUnreadableFile() {
        XCTAssertThrowsError(try decode("data: [unclosed")) { error in
            guard case .invalidYAML(let path, _)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "r.yaml")
        }
        XCTAssertThrowsError(try Recipe.load(path: "/nonexistent/r.yaml")) { error in
            guard case .unreadableFile(let path, _)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/r.yaml")
        }
    }

    func test_overrides_areTypedAndApplied() throws {
        let r = try decode(minimal, ["data.seq_len=1024", "seed=5", "data.datasets.0.weight=2", "data.datasets[0].template=llama3",
                                     "data.packing=pad", "data.cache_dir=null"])
        XCTAssertEqual(r.data.config.seqLen, 1024)
        XCTAssertEqual(r.seed, 5)
        XCTAssertEqual(r.data.config.datasets[0].weight, 2)
        XCTAssertEqual(r.data.config.datasets[0].template, .llama3)
        XCTAssertEqual(r.data.config.packing, .pad)
        XCTAssertNil(r.data.config.cacheDirectory)
        XCTAssertEqual(try decode("data:\n  datasets: [{path: a}]", ["tokenizer.path=t"]).tokenizer.path, "t")
    }

    func test_overrideErrors_nameTheOverrideAndKey() {
        expect(minimal, ["data.seq_lne=3"], .unknownKey(source: "override `data.seq_lne=3`", key: "data.seq_lne", suggestion: "data.seq_len"))
        expect(minimal, ["data.seq_len=abc"], .wrongType(source: "override `data.seq_len=abc`", key: "data.seq_len", expected: "an integer", found: "\"abc\""))
        expect(minimal, ["data.packing=fast"], .invalidValue(source: "override `data.packing=fast`", key: "data.packing", reason: "\"fast\" is not one of pack, pad"))
        expect(minimal, ["seq_len"], .invalidOverride(override: "seq_len", reason: "no `=` between key and value"))
        expect(minimal, ["data..x=1"], .invalidOverride(override: "data..x=1", reason: "`data..x` is not a dotted key path"))
        expect(minimal, ["data.datasets.3.weight=1"], .invalidOverride(
            override: "data.datasets.3.weight=1", reason: "`data.datasets.3`: `data.datasets` is a list of 1; use an index 0..<1"))
        expect(minimal, ["tokenizer.path.x=1"], .invalidOverride(
            override: "tokenizer.path.x=1", reason: "`tokenizer.path` is a value, not a section, so it has no `x`"))
    }

    func test_errorDescriptions_sayWhatToDo() {
        let e = RecipeError.unknownKey(source: "r.yaml:3", key: "data.seq_lenn", suggestion: "data.seq_len")
        XCTAssertEqual(e.description, "r.yaml:3: unknown key `data.seq_lenn`. Did you mean `data.seq_len`?")
    }
}
