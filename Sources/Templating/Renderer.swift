import Foundation

/// How a block of statements ended: normally, or by `{% break %}` / `{% continue %}`.
enum Flow {
    case normal, breakLoop, continueLoop
}

/// The state of one render: scopes, the output buffer and the counters behind the caps.
///
/// Scoping follows jinja2: `for` bodies, macro bodies, `set`/`filter` block bodies and `with`
/// get their own scope (a `set` inside them does not leak out); `if` does not. A macro body
/// sees its arguments and the template's top-level variables, not its caller's locals.
final class Renderer {
    let template: Template
    let options: RenderOptions
    var limits: RenderLimits { options.limits }

    /// scopes[0] holds the context and top-level assignments; inner scopes are pushed on top.
    var scopes: [[String: Value]]
    /// Lookups search scopes[visibleFrom...] and then scopes[0] (macro bodies start a new range).
    var visibleFrom = 0
    var output = ""
    var savedOutputs: [String] = []
    var spans: [(utf8Start: Int, scalarCount: Int)] = []
    var loopIterations = 0
    var callDepth = 0
    var evaluationDepth = 0
    var blockInput: Value = .undefined

    init(template: Template, context: [String: Value], options: RenderOptions) {
        self.template = template
        self.options = options
        self.scopes = [context]
    }

    func run() throws -> Rendering {
        _ = try execute(template.nodes)
        return Rendering(text: output, generationSpans: resolveSpans())
    }

    // MARK: Errors

    func location(_ offset: Int) -> SourceLocation { template.source.location(offset) }

    func runtime(_ message: String, at offset: Int) -> TemplateError {
        .runtime(location(offset), message: message)
    }

    // MARK: Output

    func write(_ text: String, at offset: Int) throws {
        output += text
        if output.utf8.count > limits.maxOutputBytes {
            throw TemplateError.limitExceeded(location(offset), limit: "output size in bytes", value: limits.maxOutputBytes)
        }
    }

    /// Runs `body` with a fresh output buffer and returns what it wrote.
    func capture(_ body: () throws -> Flow) throws -> (String, Flow) {
        savedOutputs.append(output)
        output = ""
        defer { output = savedOutputs.removeLast() }
        let flow = try body()
        return (output, flow)
    }

    /// The length of the top-level output so far, in UTF-8 bytes.
    var rootLength: Int { (savedOutputs.first ?? output).utf8.count }

    func resolveSpans() -> [GenerationSpan] {
        guard !spans.isEmpty else { return [] }
        // UTF-8 offset -> scalar offset for every span start, in one pass over the text.
        let utf8 = Array(output.utf8)
        var scalarAt = [Int](repeating: 0, count: utf8.count + 1)
        var scalars = 0
        for i in 0..<utf8.count {
            scalarAt[i] = scalars
            if utf8[i] & 0xC0 != 0x80 { scalars += 1 }
        }
        scalarAt[utf8.count] = scalars
        // Scalar offset -> UTF-8 offset for span ends.
        var utf8At: [Int] = []
        utf8At.reserveCapacity(scalars + 1)
        for i in 0..<utf8.count where utf8[i] & 0xC0 != 0x80 { utf8At.append(i) }
        utf8At.append(utf8.count)
        return spans.map { span in
            let start = scalarAt[min(span.utf8Start, utf8.count)]
            let end = start + span.scalarCount
            let byteEnd = end < utf8At.count ? utf8At[end] : utf8.count
            return GenerationSpan(utf8: min(span.utf8Start, utf8.count)..<max(byteEnd, min(span.utf8Start, utf8.count)), scalars: start..<end)
        }
    }

    // MARK: Scopes

    func lookup(_ name: String) -> Value? {
        var i = scopes.count - 1
        while i >= visibleFrom {
            if let v = scopes[i][name] { return v }
            i -= 1
        }
        if visibleFrom > 0, let v = scopes[0][name] { return v }
        return Builtins.global(name)
    }

    func setVariable(_ name: String, _ value: Value) {
        scopes[scopes.count - 1][name] = value
    }

    func withScope<T>(_ scope: [String: Value] = [:], _ body: () throws -> T) rethrows -> T {
        scopes.append(scope)
        defer { scopes.removeLast() }
        return try body()
    }

    func enter(at offset: Int) throws {
        evaluationDepth += 1
        if evaluationDepth > limits.maxEvaluationDepth {
            throw TemplateError.limitExceeded(location(offset), limit: "evaluation depth", value: limits.maxEvaluationDepth)
        }
    }

    // MARK: Statements

    func execute(_ nodes: [Node]) throws -> Flow {
        try enter(at: 0)
        defer { evaluationDepth -= 1 }
        for node in nodes {
            switch node {
            case .text(let text):
                try write(text, at: 0)
            case .output(let expr):
                let value = try evaluate(expr)
                if case .string(let s) = value {
                    try write(s, at: 0)
                } else {
                    try write(PythonFormat.str(value), at: 0)
                }
            case .ifChain(let branches, let elseBody):
                var taken = false
                for (test, body) in branches where try evaluate(test).isTruthy {
                    taken = true
                    let flow = try execute(body)
                    if flow != .normal { return flow }
                    break
                }
                if !taken {
                    let flow = try execute(elseBody)
                    if flow != .normal { return flow }
                }
            case .forLoop(let loop):
                try runFor(loop)
            case .set(let target, let expr, let at):
                try assign(target, try evaluate(expr), at: at)
            case .setBlock(let target, let body, let filter, let at):
                let (text, flow) = try capture { try withScope { try execute(body) } }
                var value = Value.string(text)
                if let filter {
                    blockInput = value
                    value = try evaluate(filter)
                }
                try assign(target, value, at: at)
                if flow != .normal { return flow }
            case .macro(let definition):
                setVariable(definition.name, .function(TemplateFunction(name: definition.name, kind: .macro(definition, visibleFrom: nil))))
            case .callBlock(let caller, let call, let at):
                let value = try evaluateCallBlock(caller: caller, call: call, at: at)
                try write(PythonFormat.str(value), at: at)
            case .filterBlock(let filter, let body, let at):
                let (text, flow) = try capture { try withScope { try execute(body) } }
                blockInput = .string(text)
                try write(PythonFormat.str(try evaluate(filter)), at: at)
                if flow != .normal { return flow }
            case .loopControl(let isBreak, _):
                return isBreak ? .breakLoop : .continueLoop
            case .generation(let body, let at):
                let (text, _) = try capture { try withScope { try execute(body) } }
                spans.append((rootLength, text.unicodeScalars.count))
                try write(text, at: at)
            case .with(let assignments, let body):
                let values = try assignments.map { ($0.0, try evaluate($0.1)) }
                let flow = try withScope {
                    for (target, value) in values { try assign(target, value, at: 0) }
                    return try execute(body)
                }
                if flow != .normal { return flow }
            }
        }
        return .normal
    }

    func runFor(_ loop: ForLoop) throws {
        var items = try iterate(try evaluate(loop.iterable), at: loop.at)
        if let condition = loop.condition {
            items = try withScope {
                try items.filter { item in
                    try assign(loop.target, item, at: loop.at)
                    return try evaluate(condition).isTruthy
                }
            }
        }
        if items.isEmpty {
            _ = try withScope { try execute(loop.elseBody) }
            return
        }
        for i in 0..<items.count {
            loopIterations += 1
            if loopIterations > limits.maxLoopIterations {
                throw TemplateError.limitExceeded(location(loop.at), limit: "loop iterations", value: limits.maxLoopIterations)
            }
            let flow = try withScope(["loop": .loop(LoopState(items: items, index0: i))]) {
                try assign(loop.target, items[i], at: loop.at)
                return try execute(loop.body)
            }
            if flow == .breakLoop { break }
        }
    }

    /// The items a `for` loop (or a filter) iterates: list and tuple items, a string's
    /// characters, a dict's keys; nothing for undefined.
    func iterate(_ value: Value, at offset: Int) throws -> [Value] {
        switch value {
        case .array(let items), .tuple(let items): return items
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .object(let o): return o.keys.map { .string($0) }
        case .undefined: return []
        default: throw runtime("'\(value.typeName)' object is not iterable", at: offset)
        }
    }

    func assign(_ target: AssignTarget, _ value: Value, at offset: Int) throws {
        switch target {
        case .name(let name):
            setVariable(name, value)
        case .tuple(let targets, let at):
            let items = try iterate(value, at: at)
            guard items.count == targets.count else {
                throw runtime(items.count < targets.count
                    ? "not enough values to unpack (expected \(targets.count), got \(items.count))"
                    : "too many values to unpack (expected \(targets.count))", at: at)
            }
            for (t, v) in zip(targets, items) { try assign(t, v, at: at) }
        case .namespaceAttribute(let name, let attribute, let at):
            guard case .namespace(let ns) = lookup(name) ?? .undefined else {
                throw runtime("cannot assign attribute '\(attribute)' on '\(name)': it is not a namespace() object", at: at)
            }
            guard !attribute.hasPrefix("_") else {
                throw runtime("chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attribute)'", at: at)
            }
            ns.attributes[attribute] = value
        }
    }
}
