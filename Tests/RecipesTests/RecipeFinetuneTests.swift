import Foundation
import Models
import XCTest
@testable import Recipes

final class RecipeFinetuneTests: XCTestCase {
    let minimal = "tokenizer: {path: tok}\ndata: {datasets: [{path: a.jsonl}]}\n"
    let llama = "model: {family: llama, dim: 32, heads: 4, kv_heads: 2, layers: 1, init: base}\n"
    let gpt2 = "model: {family: gpt2, dim: 32, heads: 4, layers: 1, init: base}\n"

    func decode(_ yaml: String, _ overrides: [String] = []) throws -> Recipe {
        try Recipe.decode(yaml: yaml, file: "r.yaml", overrides: overrides)
    }

    func invalid(_ yaml: String, _ overrides: [String] = [], file: StaticString = #filePath, line: UInt = #line) -> (key: String, reason: String)? {
        do {
            _ = try decode(yaml, overrides)
            XCTFail("expected an error", file: file, line: line)
        } catch let RecipeError.invalidValue(_, key, reason) {
            return (key, reason)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return nil
    }

    func test_defaults_fullFineTuning_andNoFinetuneInResolvedYAML() throws {
        let r = try decode(minimal)
        XCTAssertEqual(r.finetune.method, .full)
        XCTAssertNil(r.finetune.loraConfig)
        XCTAssertFalse(r.resolvedYAML().contains("finetune"), "recipes without LoRA resolve as before")
    }

    func test_lora_defaultsPerFamily_andRoundTrip() throws {
        let l = try decode(minimal + llama + "finetune: {method: lora}\n")
        XCTAssertEqual(l.finetune.loraConfig, LoRAConfig(rank: 8, alpha: 16, dropout: 0, targets: [.q, .v]))
        let g = try decode(minimal + gpt2, ["finetune.method=lora", "finetune.rank=4", "finetune.dropout=0.1"])
        XCTAssertEqual(g.finetune.loraConfig, LoRAConfig(rank: 4, alpha: 16, dropout: 0.1, targets: [.qkv]))
        for r in [l, g] {
            var back = try Recipe.decode(yaml: r.resolvedYAML(), file: r.file)
            back.file = r.file
            XCTAssertEqual(back, r)
        }
    }

    func test_unknownTarget_namesKeyAndSuggests() {
        let e = invalid(minimal + llama + "finetune: {method: lora, targets: [q, gte]}\n")
        XCTAssertEqual(e?.key, "finetune.targets[1]")
        XCTAssertTrue(e?.reason.contains("did you mean gate?") ?? false, e?.reason ?? "")
        let g = invalid(minimal + gpt2 + "finetune: {method: lora, targets: [q]}\n")
        XCTAssertEqual(g?.key, "finetune.targets[0]")
        XCTAssertTrue(g?.reason.contains("use qkv") ?? false, g?.reason ?? "")
    }

    func test_misspeltKey_suggestsClosest() {
        XCTAssertThrowsError(try decode(minimal + llama + "finetune: {method: lora, rnak: 4}\n")) { e in
            XCTAssertEqual(e as? RecipeError, .unknownKey(source: "r.yaml:4", key: "finetune.rnak", suggestion: "finetune.rank"))
        }
        let m = invalid(minimal + llama + "finetune: {method: lroa}\n")
        XCTAssertEqual(m?.key, "finetune.method")
        XCTAssertTrue(m?.reason.contains("did you mean lora?") ?? false, m?.reason ?? "")
    }

    func test_rankLargerThanLayer_namesRankAndLimit() {
        // k_proj of dim 32, 4 heads, 2 kv heads: 32 -> 16.
        let e = invalid(minimal + llama + "finetune: {method: lora, rank: 17, targets: [k]}\n")
        XCTAssertEqual(e?.key, "finetune.rank")
        XCTAssertTrue(e?.reason.contains("at most 16") ?? false, e?.reason ?? "")
        XCTAssertNoThrow(try decode(minimal + llama + "finetune: {method: lora, rank: 16, targets: [k]}\n"))
    }

    func test_loraWithoutBase_namesModelInit() {
        let e = invalid(minimal + "model: {dim: 32, heads: 4}\nfinetune: {method: lora}\n")
        XCTAssertEqual(e?.key, "model.init")
        XCTAssertTrue(e?.reason.contains("instruct import") ?? false, e?.reason ?? "")
    }

    func test_loraKeysWithFullMethod_areErrors() {
        let e = invalid(minimal + llama + "finetune: {rank: 4}\n")
        XCTAssertEqual(e?.key, "finetune.rank")
        XCTAssertTrue(e?.reason.contains("method lora") ?? false, e?.reason ?? "")
    }

    func test_resume_changedLoRASettings_isRefused() throws {
        let a = try decode(minimal + llama + "finetune: {method: lora, rank: 4}\n")
        let b = try decode(minimal + llama + "finetune: {method: lora, rank: 8}\n")
        let check = RecipeResume.compare(saved: a, current: b, savedDataFingerprint: "x", currentDataFingerprint: "x")
        XCTAssertEqual(check.refused, ["finetune.rank: 4 -> 8"])
    }
}
