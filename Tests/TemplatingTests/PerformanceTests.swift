import Foundation
import XCTest
@testable import Templating

/// Rendering cost: templates are rendered once per training example, so a ChatML render of a
/// 10-message conversation must stay well under a millisecond in a release build.
final class PerformanceTests: XCTestCase {
    private func medianMicroseconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        var samples: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
        }
        return samples.sorted()[samples.count / 2]
    }

    func test_chatML_tenMessages_rendersWellUnderAMillisecond() throws {
        let chat = try ChatTemplate(source: try Fixtures.text("templates/smollm2.jinja"))
        let messages: [Value] = (0..<10).map { i in
            ["role": i % 2 == 0 ? "user" : "assistant", "content": .string("Message \(i): " + String(repeating: "lorem ipsum ", count: 20))]
        }
        for _ in 0..<50 { _ = try chat.render(messages: messages) }
        let median = try medianMicroseconds(repeats: 500) { _ = try chat.render(messages: messages) }
        print("ChatML, 10 messages: median render \(String(format: "%.1f", median)) µs")
        XCTAssertLessThan(median, 1000, "median render of a 10-message ChatML conversation")
    }

    func test_complexTemplates_parseOnceRenderMany_staysFast() throws {
        let template = try Template(source: try Fixtures.text("templates/qwen3.jinja"))
        let messages: Value = .array((0..<10).map { i in
            ["role": i % 2 == 0 ? "user" : "assistant", "content": .string("Turn \(i) with some text in it.")]
        })
        let median = try medianMicroseconds(repeats: 200) { _ = try template.render(["messages": messages, "add_generation_prompt": true]) }
        let parse = try medianMicroseconds(repeats: 50) { _ = try Template(source: try Fixtures.text("templates/command-r-plus-tool-use.jinja")) }
        print("Qwen3, 10 messages: median render \(String(format: "%.1f", median)) µs; Command-R template parse \(String(format: "%.1f", parse)) µs")
        XCTAssertLessThan(median, 2000)
    }
}
