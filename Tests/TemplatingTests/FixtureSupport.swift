import Foundation
import XCTest
@testable import Templating

/// The committed fixtures (written by scripts/make_chat_template_fixtures.py) and helpers to
/// read them as `Value`s, with the key order the file has.
enum Fixtures {
    /// Tests/TemplatingTests/Fixtures, copied into the test bundle.
    static func url(_ relative: String) throws -> URL {
        guard let base = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            // The fixtures are committed: a missing resource is a broken build, not a reason to skip.
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "the Fixtures resource is missing from the test bundle"])
        }
        return base.appendingPathComponent(relative)
    }

    static func text(_ relative: String) throws -> String {
        try String(contentsOf: try url(relative), encoding: .utf8)
    }

    static func json(_ relative: String) throws -> Value {
        try Value.parseJSON(try text(relative))
    }

    /// The clock the fixture script gives `strftime_now`: 2024-07-26 14:05:09, read as UTC.
    static let fixedNow = Date(timeIntervalSince1970: 1_722_002_709)

    static var options: RenderOptions {
        RenderOptions(now: { fixedNow }, timeZone: TimeZone(secondsFromGMT: 0) ?? .current)
    }

    /// The repository root (this file is Tests/TemplatingTests/FixtureSupport.swift).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `../shared/datasets/<relative>` when present, else nil (and a line saying so).
    static func shared(_ relative: String, test: String = #function) -> URL? {
        let url = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/datasets/\(relative)")
        if FileManager.default.fileExists(atPath: url.path) { return url }
        print("\(test): \(url.path) is absent (no ../shared/datasets beside the repository); skipping")
        return nil
    }
}

extension Value {
    var object: OrderedObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    var array: [Value]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var string: String? { stringValue }

    subscript(key: String) -> Value? { object?[key] }

    /// The object's entries as a render context.
    var context: [String: Value] {
        var out: [String: Value] = [:]
        for (k, v) in object?.pairs ?? [] { out[k] = v }
        return out
    }
}

/// Renders `source` with `context` on the fixed clock.
func render(_ source: String, _ context: [String: Value] = [:], limits: RenderLimits = RenderLimits()) throws -> String {
    var options = Fixtures.options
    options.limits = limits
    return try Template(source: source, name: "test").render(context, options: options).text
}

/// FNV-1a 64 of the UTF-8 bytes, as the fixture script computes it.
func fnv1a64(_ text: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
