/// Expressions, lowest precedence first, as jinja2's parser has them:
/// conditional < or < and < not < comparisons < + - < ~ < * / // % < ** < unary - + <
/// filters and tests < attribute, subscript and call.
extension Parser {
    mutating func parseExpression(withCondExpr: Bool = true) throws -> Expr {
        try enterNesting()
        defer { nesting -= 1 }
        return withCondExpr ? try parseCondExpr() : try parseOr()
    }

    mutating func parseCondExpr() throws -> Expr {
        let firstUnknown = unknowns.count
        var expr = try parseOr()
        while skipName("if") {
            let test = try parseOr()
            try enterNesting()
            defer { nesting -= 1 }
            let otherwise = skipName("else") ? try parseCondExpr() : nil
            expr = .conditional(test: test, then: expr, else: otherwise)
            // Unknown filters inside a conditional expression fail only when evaluated.
            for i in firstUnknown..<unknowns.count { unknowns[i].soft = true }
        }
        return expr
    }

    mutating func parseOr() throws -> Expr {
        let depth = nesting
        defer { nesting = depth }
        var left = try parseAnd()
        while skipName("or") {
            try enterNesting()
            left = .or(left, try parseAnd())
        }
        return left
    }

    mutating func parseAnd() throws -> Expr {
        let depth = nesting
        defer { nesting = depth }
        var left = try parseNot()
        while skipName("and") {
            try enterNesting()
            left = .and(left, try parseNot())
        }
        return left
    }

    mutating func parseNot() throws -> Expr {
        if skipName("not") {
            try enterNesting()
            defer { nesting -= 1 }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws -> Expr {
        let at = current.offset
        let left = try parseMath1()
        var operations: [(CompareOperator, Expr)] = []
        while true {
            if case .op(let op) = current.kind, let c = compareOperator(op) {
                advance()
                operations.append((c, try parseMath1()))
            } else if skipName("in") {
                operations.append((.in, try parseMath1()))
            } else if isName("not"), case .name("in") = peek(1).kind {
                advance()
                advance()
                operations.append((.notIn, try parseMath1()))
            } else {
                break
            }
        }
        return operations.isEmpty ? left : .compare(left, operations, at: at)
    }

    func compareOperator(_ op: Operator) -> CompareOperator? {
        switch op {
        case .eq: return .eq
        case .ne: return .ne
        case .lt: return .lt
        case .ltEq: return .ltEq
        case .gt: return .gt
        case .gtEq: return .gtEq
        default: return nil
        }
    }

    mutating func parseMath1() throws -> Expr {
        let depth = nesting
        defer { nesting = depth }
        var left = try parseConcat()
        while case .op(let op) = current.kind, op == .add || op == .sub {
            let at = current.offset
            advance()
            try enterNesting()
            left = .binary(op, left, try parseConcat(), at: at)
        }
        return left
    }

    mutating func parseConcat() throws -> Expr {
        var parts = [try parseMath2()]
        while skipOp(.tilde) {
            parts.append(try parseMath2())
            if parts.count > 4 * Parser.maxNesting {
                throw TemplateError.limitExceeded(location(current.offset), limit: "operands of one '~' chain", value: 4 * Parser.maxNesting)
            }
        }
        return parts.count == 1 ? parts[0] : .concat(parts)
    }

    mutating func parseMath2() throws -> Expr {
        let depth = nesting
        defer { nesting = depth }
        var left = try parsePow()
        while case .op(let op) = current.kind, op == .mul || op == .div || op == .floorDiv || op == .mod {
            let at = current.offset
            advance()
            try enterNesting()
            left = .binary(op, left, try parsePow(), at: at)
        }
        return left
    }

    mutating func parsePow() throws -> Expr {
        let depth = nesting
        defer { nesting = depth }
        var left = try parseUnary()
        while isOp(.pow) {
            let at = current.offset
            advance()
            try enterNesting()
            left = .binary(.pow, left, try parseUnary(), at: at)
        }
        return left
    }

    mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        let at = current.offset
        var node: Expr
        if skipOp(.sub) {
            try enterNesting()
            defer { nesting -= 1 }
            node = .negate(try parseUnary(withFilter: false), at: at)
        } else if skipOp(.add) {
            try enterNesting()
            defer { nesting -= 1 }
            node = .plus(try parseUnary(withFilter: false), at: at)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    mutating func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .name(let n):
            advance()
            switch n {
            case "true", "True": return .constant(.bool(true))
            case "false", "False": return .constant(.bool(false))
            case "none", "None": return .constant(.none)
            default:
                if !usedNames.isEmpty { usedNames[usedNames.count - 1].insert(n) }
                return .name(n, at: token.offset)
            }
        case .string(let s):
            advance()
            var text = s
            while case .string(let more) = current.kind {
                text += more
                advance()
            }
            return .constant(.string(text))
        case .integer(let i):
            advance()
            return .constant(.int(i))
        case .float(let d):
            advance()
            return .constant(.double(d))
        case .op(.lParen):
            advance()
            let expr = try parseTuple(explicitParentheses: true)
            try expectOp(.rParen)
            return expr
        case .op(.lBracket):
            return try parseList()
        case .op(.lBrace):
            return try parseDict()
        default:
            throw syntax("unexpected \(Parser.describe(token.kind)); expected an expression")
        }
    }

    /// `a`, `a, b`, `(a, b)`: a tuple when there is a comma, else the single expression.
    mutating func parseTuple(simplified: Bool = false, withCondExpr: Bool = true, extraEnd: Set<String> = [], explicitParentheses: Bool = false) throws -> Expr {
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(.comma) }
            if isTupleEnd(extraEnd) { break }
            if simplified {
                items.append(try parsePrimary())
            } else {
                items.append(try parseExpression(withCondExpr: withCondExpr))
            }
            if isOp(.comma) {
                isTuple = true
            } else {
                break
            }
        }
        if !isTuple {
            if let first = items.first { return first }
            if !explicitParentheses { throw syntax("expected an expression, got \(Parser.describe(current.kind))") }
        }
        return Parser.fold(items).map { .constant(.tuple($0)) } ?? .tuple(items)
    }

    func isTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .op(.rParen): return true
        case .name(let n): return extraEnd.contains(n)
        default: return false
        }
    }

    /// The values of a list of constant expressions, or nil if any is not constant.
    static func fold(_ items: [Expr]) -> [Value]? {
        var values: [Value] = []
        values.reserveCapacity(items.count)
        for item in items {
            guard case .constant(let v) = item else { return nil }
            values.append(v)
        }
        return values
    }

    mutating func parseList() throws -> Expr {
        try expectOp(.lBracket)
        try enterNesting()
        defer { nesting -= 1 }
        var items: [Expr] = []
        while !isOp(.rBracket) {
            if !items.isEmpty { try expectOp(.comma) }
            if isOp(.rBracket) { break }
            items.append(try parseExpression())
        }
        try expectOp(.rBracket)
        return Parser.fold(items).map { .constant(.array($0)) } ?? .list(items)
    }

    mutating func parseDict() throws -> Expr {
        let at = current.offset
        try expectOp(.lBrace)
        try enterNesting()
        defer { nesting -= 1 }
        var pairs: [(Expr, Expr)] = []
        while !isOp(.rBrace) {
            if !pairs.isEmpty { try expectOp(.comma) }
            if isOp(.rBrace) { break }
            let key = try parseExpression()
            try expectOp(.colon)
            pairs.append((key, try parseExpression()))
        }
        try expectOp(.rBrace)
        return .dict(pairs, at: at)
    }

    mutating func parsePostfix(_ start: Expr) throws -> Expr {
        let depth = nesting
        defer { nesting = depth }
        var node = start
        while true {
            if isOp(.dot) || isOp(.lBracket) || isOp(.lParen) { try enterNesting() }
            if isOp(.dot) || isOp(.lBracket) {
                node = try parseSubscript(node)
            } else if isOp(.lParen) {
                let at = current.offset
                node = .call(node, try parseCallArguments(), at: at)
            } else {
                return node
            }
        }
    }

    mutating func parseFilterExpr(_ start: Expr) throws -> Expr {
        let depth = nesting
        defer { nesting = depth }
        var node = start
        while true {
            if isOp(.pipe) || isName("is") || isOp(.lParen) { try enterNesting() }
            if isOp(.pipe) {
                node = try parseFilters(node, startInline: false)
            } else if isName("is") {
                node = try parseTest(node)
            } else if isOp(.lParen) {
                let at = current.offset
                node = .call(node, try parseCallArguments(), at: at)
            } else {
                return node
            }
        }
    }

    mutating func parseSubscript(_ node: Expr) throws -> Expr {
        let token = current
        advance()
        if case .op(.dot) = token.kind {
            let attributeToken = current
            advance()
            switch attributeToken.kind {
            case .name(let n): return .attribute(node, n, at: attributeToken.offset)
            case .integer(let i): return .item(node, .constant(.int(i)), at: attributeToken.offset)
            default: throw syntax("expected a name or number after '.'", at: attributeToken.offset)
            }
        }
        try enterNesting()
        defer { nesting -= 1 }
        var arguments: [Expr] = []
        while !isOp(.rBracket) {
            if !arguments.isEmpty { try expectOp(.comma) }
            arguments.append(try parseSubscribed(node, at: token.offset))
        }
        try expectOp(.rBracket)
        if arguments.count == 1 {
            if case .slice = arguments[0] { return arguments[0] }
            return .item(node, arguments[0], at: token.offset)
        }
        return .item(node, .tuple(arguments), at: token.offset)
    }

    /// One subscript: an expression, or a slice `start:stop:step` with any part missing.
    mutating func parseSubscribed(_ node: Expr, at: Int) throws -> Expr {
        var start: Expr?
        if isOp(.colon) {
            advance()
        } else {
            let expr = try parseExpression()
            guard isOp(.colon) else { return expr }
            advance()
            start = expr
        }
        var stop: Expr?
        var step: Expr?
        if !isOp(.colon), !isOp(.rBracket), !isOp(.comma) { stop = try parseExpression() }
        if skipOp(.colon), !isOp(.rBracket), !isOp(.comma) { step = try parseExpression() }
        return .slice(node, start: start, stop: stop, step: step, at: at)
    }

    mutating func parseCallArguments() throws -> CallArguments {
        try expectOp(.lParen)
        try enterNesting()
        defer { nesting -= 1 }
        var arguments = CallArguments()
        var needsComma = false
        while !isOp(.rParen) {
            if needsComma {
                try expectOp(.comma)
                if isOp(.rParen) { break }
            }
            if isOp(.mul) || isOp(.pow) {
                throw TemplateError.unsupported(location(current.offset), feature: "*args and **kwargs in calls")
            }
            if case .name(let key) = current.kind, case .op(.assign) = peek(1).kind {
                advance()
                advance()
                arguments.keyword.append((key, try parseExpression()))
            } else {
                guard arguments.keyword.isEmpty else { throw syntax("a positional argument follows a keyword argument") }
                arguments.positional.append(try parseExpression())
            }
            needsComma = true
        }
        try expectOp(.rParen)
        return arguments
    }

    /// `| name(args) | name ...`; `startInline` for `{% filter name %}`, where the first `|` is absent.
    mutating func parseFilters(_ start: Expr, startInline: Bool) throws -> Expr {
        var node = start
        var inline = startInline
        let depth = nesting
        defer { nesting = depth }
        while isOp(.pipe) || inline {
            try enterNesting()
            if !inline { advance() }
            inline = false
            let at = current.offset
            var name = try expectName()
            while skipOp(.dot) { name += "." + (try expectName()) }
            let arguments = isOp(.lParen) ? try parseCallArguments() : CallArguments()
            let filter = Filter(rawValue: name)
            if filter == nil {
                unknowns.append((at, .unknownFilter(location(at), name: name), softFrames.last ?? false))
            }
            node = .filter(node, FilterCall(name: name, filter: filter, arguments: arguments, at: at))
        }
        return node
    }

    mutating func parseTest(_ node: Expr) throws -> Expr {
        advance()  // 'is'
        let negated = skipName("not")
        let at = current.offset
        var name = try expectName()
        while skipOp(.dot) { name += "." + (try expectName()) }
        var arguments = CallArguments()
        switch current.kind {
        case .op(.lParen):
            arguments = try parseCallArguments()
        case .name("else"), .name("or"), .name("and"):
            break
        case .name("is"):
            throw syntax("you cannot chain multiple tests with 'is'")
        case .name, .string, .integer, .float, .op(.lBracket), .op(.lBrace):
            arguments.positional = [try parsePostfix(try parsePrimary())]
        default:
            break
        }
        let test = TemplateTest(rawValue: name)
        if test == nil {
            unknowns.append((at, .unknownTest(location(at), name: name), softFrames.last ?? false))
        }
        return .test(node, TestCall(name: name, test: test, arguments: arguments, at: at), negated: negated)
    }
}
