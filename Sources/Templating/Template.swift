import Foundation

/// A parsed Jinja template: parse once, render many times (from any thread).
///
/// ```swift
/// let template = try Template(source: "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}")
/// let text = try template.render(["messages": try Value.parseJSON(jsonl)]).text
/// ```
///
/// Rendering follows jinja2 as transformers configures it for chat templates (sandboxed,
/// `trim_blocks`, `lstrip_blocks`, `loopcontrols`, the `generation` tag). docs/templating.md
/// lists the supported subset.
public struct Template: Sendable {
    /// The name used in error locations.
    public let name: String
    let source: SourceText
    let nodes: [Node]

    /// Parses `source`. Throws `TemplateError` (syntax, unknown tag, unknown filter or test
    /// outside an `if`, nesting too deep) with the line and column of the problem.
    public init(source: String, name: String = "chat_template") throws {
        self.name = name
        self.source = SourceText(source, name: name)
        self.nodes = try Parser.parse(self.source)
    }

    /// Renders with `context` as the template's variables.
    ///
    /// Besides the context, templates see the globals transformers defines: `range`, `dict`,
    /// `namespace`, `raise_exception` and `strftime_now` (on the clock in `options`); a context
    /// entry of the same name takes precedence.
    public func render(_ context: [String: Value], options: RenderOptions = RenderOptions()) throws -> Rendering {
        let renderer = Renderer(template: self, context: context, options: options)
        return try renderer.run()
    }
}

/// The result of a render: the text and where `{% generation %}` blocks put their output.
public struct Rendering: Sendable, Equatable {
    /// The rendered text.
    public let text: String
    /// One span per `{% generation %}` block executed, in order.
    public let generationSpans: [GenerationSpan]
}

/// The part of the output a `{% generation %}` block produced.
///
/// `scalars` are Python string indices (Unicode scalars), exactly the `(start, end)` pairs
/// transformers records; `utf8` are the same boundaries as UTF-8 byte offsets into `text`,
/// which is what a byte-level tokenizer's offsets use. As in transformers, a block inside a
/// macro, a `set` block or a `filter` block is placed as if its text were written where the
/// enclosing top-level output stood when it ran.
public struct GenerationSpan: Sendable, Equatable {
    /// Byte range in `Rendering.text.utf8`.
    public let utf8: Range<Int>
    /// Range in Unicode scalars (Python `str` indices).
    public let scalars: Range<Int>
}

/// The clock and safety caps of one render.
public struct RenderOptions: Sendable {
    /// The current time for `strftime_now`, read once per call. Inject a fixed date for
    /// reproducible prompts and tests.
    public var now: @Sendable () -> Date
    /// The time zone `strftime_now` formats in (Python's `datetime.now()` uses local time).
    public var timeZone: TimeZone
    /// Caps that stop a hostile or broken template.
    public var limits: RenderLimits

    /// Defaults: the system clock in the local time zone, default limits.
    public init(now: @escaping @Sendable () -> Date = { Date() }, timeZone: TimeZone = .current, limits: RenderLimits = RenderLimits()) {
        self.now = now
        self.timeZone = timeZone
        self.limits = limits
    }
}

/// Caps on the work and memory one render may use. Each exceeded cap throws
/// `TemplateError.limitExceeded` naming it. The defaults are far above what any chat
/// template needs for a long conversation and far below what would hurt the process.
public struct RenderLimits: Sendable {
    /// Largest output (and largest string or buffer built on the way), in UTF-8 bytes. 64 MiB.
    public var maxOutputBytes = 64 << 20
    /// Total `for` loop iterations in one render (over all loops). 1,000,000.
    public var maxLoopIterations = 1_000_000
    /// Largest list made by `*` and `+`. 1,000,000 items.
    public var maxCollectionCount = 1_000_000
    /// Longest list `range()` may make. 100,000, jinja2's sandbox's `MAX_RANGE`.
    public var maxRangeLength = 100_000
    /// Deepest macro call chain (recursion). 32; real templates recurse a few levels.
    public var maxCallDepth = 32
    /// Deepest nesting of evaluation: statement blocks and expressions, summed over macro
    /// calls. 256, which keeps a render within a 512 KiB thread stack (tested).
    public var maxEvaluationDepth = 256

    /// The defaults above.
    public init() {}
}
