/// Turns tokens into a tree of `Node`s, following jinja2's grammar and precedence.
///
/// Nesting (brackets, blocks, `not not ...`) deeper than `maxNesting` is a syntax error, so a
/// hostile template cannot exhaust the stack while being parsed or rendered.
struct Parser {
    static let maxNesting = 128
    /// Tags that only continue or close a block.
    static let closingTags: Set<String> = [
        "elif", "else", "endif", "endfor", "endset", "endmacro", "endcall", "endfilter", "endwith", "endgeneration", "endraw",
    ]

    let source: SourceText
    let tokens: [Token]
    var index = 0
    var nesting = 0
    var loopDepth = 0
    /// Names read inside each macro being parsed (innermost last).
    var usedNames: [Set<String>] = []
    /// For each enclosing construct: true for `if` (jinja2's "soft" frame, where unknown filters
    /// and tests are reported only when reached), false for ones with their own scope.
    var softFrames: [Bool] = []
    /// Unknown filters and tests seen so far: (offset, error, soft).
    var unknowns: [(at: Int, error: TemplateError, soft: Bool)] = []

    init(source: SourceText, tokens: [Token]) {
        self.source = source
        self.tokens = tokens
    }

    static func parse(_ source: SourceText) throws -> [Node] {
        var parser = Parser(source: source, tokens: try Lexer.tokenize(source))
        let (nodes, _) = try parser.subparse(endTags: [])
        if let hard = parser.unknowns.first(where: { !$0.soft }) { throw hard.error }
        return nodes
    }

    // MARK: Token helpers

    var current: Token { index < tokens.count ? tokens[index] : Token(kind: .end, offset: source.bytes.count) }

    func peek(_ ahead: Int) -> Token {
        index + ahead < tokens.count ? tokens[index + ahead] : Token(kind: .end, offset: source.bytes.count)
    }

    mutating func advance() { index += 1 }

    func location(_ offset: Int) -> SourceLocation { source.location(offset) }

    func syntax(_ message: String, at offset: Int? = nil) -> TemplateError {
        .syntax(location(offset ?? current.offset), message: message)
    }

    static func describe(_ kind: Token.Kind) -> String {
        switch kind {
        case .data: return "template text"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "end of statement block '%}'"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "end of print statement '}}'"
        case .name(let n): return "'\(n)'"
        case .string: return "a string"
        case .integer(let i): return "\(i)"
        case .float(let d): return "\(d)"
        case .op(let op): return "'\(op.rawValue)'"
        case .end: return "end of template"
        }
    }

    func isOp(_ op: Operator) -> Bool {
        if case .op(let o) = current.kind { return o == op }
        return false
    }

    func isName(_ name: String) -> Bool {
        if case .name(let n) = current.kind { return n == name }
        return false
    }

    mutating func skipOp(_ op: Operator) -> Bool {
        guard isOp(op) else { return false }
        advance()
        return true
    }

    mutating func skipName(_ name: String) -> Bool {
        guard isName(name) else { return false }
        advance()
        return true
    }

    mutating func expectOp(_ op: Operator) throws {
        guard skipOp(op) else { throw syntax("expected '\(op.rawValue)', got \(Parser.describe(current.kind))") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw syntax("expected a name, got \(Parser.describe(current.kind))") }
        advance()
        return n
    }

    mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else {
            throw syntax("expected end of statement block '%}', got \(Parser.describe(current.kind))")
        }
        advance()
    }

    mutating func enterNesting() throws {
        nesting += 1
        if nesting > Parser.maxNesting {
            throw TemplateError.limitExceeded(location(current.offset), limit: "nesting depth of brackets, blocks and operators", value: Parser.maxNesting)
        }
    }

    // MARK: Statements

    /// Parses nodes until a block tag whose name is in `endTags`; returns the nodes and that
    /// name (the tag name is left unconsumed, positioned after `{%`).
    mutating func subparse(endTags: Set<String>) throws -> ([Node], String?) {
        var nodes: [Node] = []
        while true {
            let token = current
            switch token.kind {
            case .data(let text):
                nodes.append(.text(text))
                advance()
            case .variableBegin:
                advance()
                let expr = try parseTuple()
                guard case .variableEnd = current.kind else {
                    throw syntax("expected end of print statement '}}', got \(Parser.describe(current.kind))")
                }
                advance()
                nodes.append(.output(expr))
            case .blockBegin:
                advance()
                if case .name(let n) = current.kind {
                    if endTags.contains(n) { return (nodes, n) }
                    if Parser.closingTags.contains(n) {
                        throw syntax(endTags.isEmpty ? "'\(n)' closes no open block"
                            : "unexpected '\(n)'; the innermost open block needs "
                                + endTags.sorted().map { "'\($0)'" }.joined(separator: " or "))
                    }
                }
                nodes.append(try parseStatement())
                try expectBlockEnd()
            case .end:
                if !endTags.isEmpty {
                    throw syntax("unexpected end of template; a block is not closed (looking for "
                        + endTags.sorted().map { "'\($0)'" }.joined(separator: " or ") + ")")
                }
                return (nodes, nil)
            default:
                throw syntax("unexpected \(Parser.describe(token.kind))")
            }
        }
    }

    /// `parse_statements`: the rest of the opening tag, the body, and the end tag name.
    mutating func parseBody(_ endTags: Set<String>, drop: Bool) throws -> ([Node], String) {
        _ = skipOp(.colon)
        try expectBlockEnd()
        try enterNesting()
        defer { nesting -= 1 }
        let (nodes, end) = try subparse(endTags: endTags)
        guard let end else { throw syntax("unexpected end of template") }
        if drop { advance() }
        return (nodes, end)
    }

    mutating func parseStatement() throws -> Node {
        let token = current
        guard case .name(let tag) = token.kind else { throw syntax("expected a statement name after '{%'") }
        switch tag {
        case "for": return try parseFor()
        case "if": return try parseIf()
        case "set": return try parseSet()
        case "macro": return try parseMacro()
        case "call": return try parseCallBlock()
        case "filter": return try parseFilterBlock()
        case "with": return try parseWith()
        case "generation":
            advance()
            softFrames.append(false)
            defer { softFrames.removeLast() }
            let (body, _) = try parseBody(["endgeneration"], drop: true)
            return .generation(body, at: token.offset)
        case "break", "continue":
            advance()
            guard loopDepth > 0 else { throw syntax("'\(tag)' outside of a for loop", at: token.offset) }
            return .loopControl(isBreak: tag == "break", at: token.offset)
        case "print":
            advance()
            return .output(try parseTuple())
        default:
            throw TemplateError.unknownTag(location(token.offset), tag: tag)
        }
    }

    mutating func parseFor() throws -> Node {
        let at = current.offset
        advance()
        softFrames.append(false)
        defer { softFrames.removeLast() }
        let target = try parseAssignTarget(extraEnd: ["in"])
        guard skipName("in") else { throw syntax("expected 'in' in the for statement") }
        let iterable = try parseTuple(withCondExpr: false, extraEnd: ["recursive"])
        let condition = skipName("if") ? try parseExpression() : nil
        if isName("recursive") {
            throw TemplateError.unsupported(location(current.offset), feature: "recursive for loops")
        }
        loopDepth += 1
        let (body, end) = try parseBody(["endfor", "else"], drop: true)
        loopDepth -= 1
        var elseBody: [Node] = []
        if end == "else" { elseBody = try parseBody(["endfor"], drop: true).0 }
        return .forLoop(ForLoop(target: target, iterable: iterable, condition: condition, body: body, elseBody: elseBody, at: at))
    }

    mutating func parseIf() throws -> Node {
        advance()
        softFrames.append(true)
        defer { softFrames.removeLast() }
        var branches: [(Expr, [Node])] = []
        var elseBody: [Node] = []
        while true {
            let test = try parseTuple(withCondExpr: false)
            let (body, end) = try parseBody(["elif", "else", "endif"], drop: true)
            branches.append((test, body))
            if end == "elif" { continue }
            if end == "else" { elseBody = try parseBody(["endif"], drop: true).0 }
            break
        }
        return .ifChain(branches, elseBody: elseBody)
    }

    mutating func parseSet() throws -> Node {
        let at = current.offset
        advance()
        let target = try parseAssignTarget(withNamespace: true)
        if skipOp(.assign) { return .set(target, try parseTuple(), at: at) }
        softFrames.append(false)
        defer { softFrames.removeLast() }
        let filter = isOp(.pipe) ? try parseFilters(.blockInput, startInline: false) : nil
        let (body, _) = try parseBody(["endset"], drop: true)
        return .setBlock(target, body: body, filter: filter, at: at)
    }

    mutating func parseSignature() throws -> [(String, Expr?)] {
        try expectOp(.lParen)
        var parameters: [(String, Expr?)] = []
        while !isOp(.rParen) {
            if !parameters.isEmpty { try expectOp(.comma) }
            if isOp(.rParen) { break }
            let at = current.offset
            let name = try expectName()
            if skipOp(.assign) {
                parameters.append((name, try parseExpression()))
            } else {
                if parameters.contains(where: { $0.1 != nil }) {
                    throw syntax("non-default argument follows default argument", at: at)
                }
                parameters.append((name, nil))
            }
        }
        try expectOp(.rParen)
        return parameters
    }

    mutating func parseMacro() throws -> Node {
        let at = current.offset
        advance()
        let name = try expectName()
        let parameters = try parseSignature()
        let savedLoopDepth = loopDepth
        loopDepth = 0
        usedNames.append([])
        softFrames.append(false)
        defer { softFrames.removeLast() }
        let (body, _) = try parseBody(["endmacro"], drop: true)
        loopDepth = savedLoopDepth
        let names = usedNames.removeLast()
        return .macro(MacroDefinition(name: name, parameters: parameters, body: body, usedNames: names, at: at))
    }

    mutating func parseCallBlock() throws -> Node {
        let at = current.offset
        advance()
        let parameters = isOp(.lParen) ? try parseSignature() : []
        let call = try parseExpression()
        guard case .call = call else { throw syntax("expected a macro call after 'call'", at: at) }
        let savedLoopDepth = loopDepth
        loopDepth = 0
        usedNames.append([])
        softFrames.append(false)
        defer { softFrames.removeLast() }
        let (body, _) = try parseBody(["endcall"], drop: true)
        loopDepth = savedLoopDepth
        let names = usedNames.removeLast()
        let caller = MacroDefinition(name: "caller", parameters: parameters, body: body, usedNames: names, at: at)
        return .callBlock(caller: caller, call: call, at: at)
    }

    mutating func parseFilterBlock() throws -> Node {
        let at = current.offset
        advance()
        softFrames.append(false)
        defer { softFrames.removeLast() }
        let filter = try parseFilters(.blockInput, startInline: true)
        let (body, _) = try parseBody(["endfilter"], drop: true)
        return .filterBlock(filter, body: body, at: at)
    }

    mutating func parseWith() throws -> Node {
        advance()
        softFrames.append(false)
        defer { softFrames.removeLast() }
        var assignments: [(AssignTarget, Expr)] = []
        while true {
            if case .blockEnd = current.kind { break }
            if !assignments.isEmpty { try expectOp(.comma) }
            let target = try parseAssignTarget()
            try expectOp(.assign)
            assignments.append((target, try parseExpression()))
        }
        let (body, _) = try parseBody(["endwith"], drop: true)
        return .with(assignments, body: body)
    }

    mutating func parseAssignTarget(extraEnd: Set<String> = [], withNamespace: Bool = false) throws -> AssignTarget {
        let at = current.offset
        if withNamespace, case .name(let ns) = current.kind, case .op(.dot) = peek(1).kind {
            advance()
            advance()
            let attribute = try expectName()
            return .namespaceAttribute(ns, attribute, at: at)
        }
        let expr = try parseTuple(simplified: true, extraEnd: extraEnd)
        return try assignTarget(expr, at: at)
    }

    func assignTarget(_ expr: Expr, at: Int) throws -> AssignTarget {
        switch expr {
        case .name(let n, _):
            if ["true", "false", "none", "True", "False", "None"].contains(n) { break }
            return .name(n)
        case .tuple(let items):
            return .tuple(try items.map { try assignTarget($0, at: at) }, at: at)
        default: break
        }
        throw syntax("can't assign to this expression; expected a name or names separated by commas", at: at)
    }
}
