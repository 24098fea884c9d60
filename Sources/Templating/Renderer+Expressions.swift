/// Evaluating expressions: names, attribute and item access, slices, calls, filters, tests.
extension Renderer {
    func evaluate(_ expr: Expr) throws -> Value {
        switch expr {
        case .constant(let v):
            return v
        case .name(let name, _):
            return lookup(name) ?? .undefined
        case .blockInput:
            return blockInput
        default:
            try enter(at: 0)
            defer { evaluationDepth -= 1 }
            return try evaluateCompound(expr)
        }
    }

    private func evaluateCompound(_ expr: Expr) throws -> Value {
        switch expr {
        case .constant, .name, .blockInput:
            return try evaluate(expr)
        case .list(let items):
            return .array(try items.map { try evaluate($0) })
        case .tuple(let items):
            return .tuple(try items.map { try evaluate($0) })
        case .dict(let pairs, let at):
            var object = OrderedObject()
            for (k, v) in pairs {
                let key = try evaluate(k)
                guard case .string(let s) = key else {
                    throw TemplateError.unsupported(location(at), feature: "dict keys that are not strings (got \(key.typeName))")
                }
                object[s] = try evaluate(v)
            }
            return .object(object)
        case .attribute(let base, let name, let at):
            return try attribute(of: try evaluate(base), name, at: at, described: base)
        case .item(let base, let key, let at):
            return try item(of: try evaluate(base), try evaluate(key), at: at, described: base)
        case .slice(let base, let start, let stop, let step, let at):
            return try slice(try evaluate(base), start: try start.map { try evaluate($0) }, stop: try stop.map { try evaluate($0) },
                step: try step.map { try evaluate($0) }, at: at)
        case .negate(let operand, let at):
            let v = try evaluate(operand)
            switch v.numeric {
            case .int(let i)?:
                guard i != .min else { throw runtime("integer overflow", at: at) }
                return .int(-i)
            case .double(let d)?: return .double(-d)
            default: throw runtime(v.isUndefined ? undefinedMessage(operand) : "bad operand type for unary -: '\(v.typeName)'", at: at)
            }
        case .plus(let operand, let at):
            let v = try evaluate(operand)
            guard let n = v.numeric else {
                throw runtime(v.isUndefined ? undefinedMessage(operand) : "bad operand type for unary +: '\(v.typeName)'", at: at)
            }
            return n
        case .binary(let op, let l, let r, let at):
            let left = try evaluate(l)
            let right = try evaluate(r)
            if left.isUndefined || right.isUndefined {
                throw runtime(undefinedMessage(left.isUndefined ? l : r), at: at)
            }
            return try binary(op, left, right, at: at)
        case .concat(let parts):
            var s = ""
            for p in parts { s += PythonFormat.str(try evaluate(p)) }
            try checkSize(s, at: 0)
            return .string(s)
        case .and(let l, let r):
            let left = try evaluate(l)
            return left.isTruthy ? try evaluate(r) : left
        case .or(let l, let r):
            let left = try evaluate(l)
            return left.isTruthy ? left : try evaluate(r)
        case .not(let operand):
            return .bool(!(try evaluate(operand).isTruthy))
        case .compare(let first, let operations, let at):
            var left = try evaluate(first)
            for (op, rightExpr) in operations {
                let right = try evaluate(rightExpr)
                guard try compare(op, left, right, at: at) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let test, let then, let otherwise):
            if try evaluate(test).isTruthy { return try evaluate(then) }
            return try otherwise.map { try evaluate($0) } ?? .undefined
        case .filter(let base, let call):
            let value = try evaluate(base)
            guard let filter = call.filter else { throw TemplateError.unknownFilter(location(call.at), name: call.name) }
            return try applyFilter(filter, value, try arguments(call.arguments), at: call.at)
        case .test(let base, let call, let negated):
            let value = try evaluate(base)
            guard let test = call.test else { throw TemplateError.unknownTest(location(call.at), name: call.name) }
            let result = try applyTest(test, value, try arguments(call.arguments), at: call.at)
            return .bool(result != negated)
        case .call(let callee, let args, let at):
            return try evaluateCall(callee, try arguments(args), at: at)
        }
    }

    func arguments(_ args: CallArguments) throws -> TemplateFunction.Arguments {
        if args.isEmpty { return TemplateFunction.Arguments() }
        return TemplateFunction.Arguments(
            positional: try args.positional.map { try evaluate($0) },
            keyword: try args.keyword.map { ($0.0, try evaluate($0.1)) })
    }

    /// jinja2's message for using an undefined value: `'name' is undefined` or
    /// `'dict object' has no attribute 'key'`.
    func undefinedMessage(_ expr: Expr) -> String {
        switch expr {
        case .name(let n, _): return "'\(n)' is undefined"
        case .attribute(_, let n, _): return "the attribute '\(n)' is undefined (missing key or attribute)"
        case .item(_, .constant(let key), _): return "the item \(PythonFormat.repr(key)) is undefined (missing key or index)"
        default: return "an undefined value was used in an operation"
        }
    }

    func checkSize(_ s: String, at offset: Int) throws {
        if s.utf8.count > limits.maxOutputBytes {
            throw TemplateError.limitExceeded(location(offset), limit: "string size in bytes", value: limits.maxOutputBytes)
        }
    }

    func checkCount(_ n: Int, at offset: Int) throws {
        if n > limits.maxCollectionCount {
            throw TemplateError.limitExceeded(location(offset), limit: "list length", value: limits.maxCollectionCount)
        }
    }

    // MARK: Attribute and item access

    /// `value.name`, as jinja2's sandboxed `getattr`: Python attributes (methods) first, then
    /// dict keys; missing means undefined. An attribute of an undefined value is an error.
    func attribute(of value: Value, _ name: String, at offset: Int, described: Expr? = nil) throws -> Value {
        switch value {
        case .object(let o):
            if Builtins.dictMethods.contains(name) { return .function(TemplateFunction(name: name, kind: .method(receiver: value, name: name))) }
            return o[name] ?? .undefined
        case .namespace(let ns):
            return ns.attributes[name] ?? .undefined
        case .loop(let l):
            return try loopAttribute(l, name, at: offset)
        case .string:
            return Builtins.stringMethods.contains(name) ? .function(TemplateFunction(name: name, kind: .method(receiver: value, name: name))) : .undefined
        case .array, .tuple:
            return Builtins.listMethods.contains(name) ? .function(TemplateFunction(name: name, kind: .method(receiver: value, name: name))) : .undefined
        case .undefined:
            throw runtime(described.map(undefinedMessage) ?? "an undefined value has no attribute '\(name)'", at: offset)
        default:
            return .undefined
        }
    }

    /// `value[key]`, as jinja2's `getitem`: the item first, then an attribute of that name.
    func item(of value: Value, _ key: Value, at offset: Int, described: Expr? = nil) throws -> Value {
        switch (value, key) {
        case (.array(let items), _), (.tuple(let items), _):
            guard case .int(var i)? = key.numeric, !(key.isDouble) else {
                if case .string(let name) = key { return try attribute(of: value, name, at: offset) }
                return .undefined
            }
            if i < 0 { i += items.count }
            return items.indices.contains(i) ? items[i] : .undefined
        case (.string(let s), _):
            guard case .int(var i)? = key.numeric, !(key.isDouble) else {
                if case .string(let name) = key { return try attribute(of: value, name, at: offset) }
                return .undefined
            }
            let scalars = s.unicodeScalars
            let count = scalars.count
            if i < 0 { i += count }
            guard i >= 0 && i < count else { return .undefined }
            return .string(String(scalars[scalars.index(scalars.startIndex, offsetBy: i)]))
        case (.object(let o), .string(let k)):
            if let v = o[k] { return v }
            return try attribute(of: value, k, at: offset)
        case (.namespace, .string(let k)), (.loop, .string(let k)):
            return try attribute(of: value, k, at: offset)
        case (.undefined, _):
            throw runtime(described.map(undefinedMessage) ?? "an undefined value has no item \(PythonFormat.repr(key))", at: offset)
        default:
            return .undefined
        }
    }

    func loopAttribute(_ l: LoopState, _ name: String, at offset: Int) throws -> Value {
        let n = l.items.count
        switch name {
        case "index": return .int(l.index0 + 1)
        case "index0": return .int(l.index0)
        case "revindex": return .int(n - l.index0)
        case "revindex0": return .int(n - l.index0 - 1)
        case "first": return .bool(l.index0 == 0)
        case "last": return .bool(l.index0 == n - 1)
        case "length": return .int(n)
        // Without recursive loops jinja2's depth is always 1 (it counts `loop(...)` recursion, not nesting).
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return l.index0 > 0 ? l.items[l.index0 - 1] : .undefined
        case "nextitem": return l.index0 + 1 < n ? l.items[l.index0 + 1] : .undefined
        case "cycle": return .function(TemplateFunction(name: "loop.cycle", kind: .method(receiver: .loop(l), name: "cycle")))
        case "changed":
            throw TemplateError.unsupported(location(offset), feature: "loop.changed()")
        default: return .undefined
        }
    }

    /// Python slicing of lists, tuples and strings.
    func slice(_ value: Value, start: Value?, stop: Value?, step: Value?, at offset: Int) throws -> Value {
        func integer(_ v: Value?) throws -> Int? {
            guard let v, !(v == .none) else { return nil }
            guard case .int(let i)? = v.numeric, !v.isDouble else {
                throw runtime("slice indices must be integers or None", at: offset)
            }
            return i
        }
        let stepValue = try integer(step) ?? 1
        guard stepValue != 0 else { throw runtime("slice step cannot be zero", at: offset) }
        func indices(_ count: Int) throws -> [Int] {
            var lo: Int
            var hi: Int
            if stepValue > 0 {
                lo = try integer(start).map { $0 < 0 ? max($0 + count, 0) : min($0, count) } ?? 0
                hi = try integer(stop).map { $0 < 0 ? max($0 + count, 0) : min($0, count) } ?? count
                return lo < hi ? Array(stride(from: lo, to: hi, by: stepValue)) : []
            }
            lo = try integer(start).map { $0 < 0 ? max($0 + count, -1) : min($0, count - 1) } ?? count - 1
            hi = try integer(stop).map { $0 < 0 ? max($0 + count, -1) : min($0, count - 1) } ?? -1
            return lo > hi ? Array(stride(from: lo, to: hi, by: stepValue)) : []
        }
        switch value {
        case .array(let items): return .array(try indices(items.count).map { items[$0] })
        case .tuple(let items): return .tuple(try indices(items.count).map { items[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            return .string(PythonString.string(try indices(scalars.count).map { scalars[$0] }))
        case .undefined:
            throw runtime("cannot slice an undefined value", at: offset)
        default:
            throw runtime("'\(value.typeName)' object is not subscriptable", at: offset)
        }
    }

    // MARK: Calls

    func evaluateCall(_ callee: Expr, _ args: TemplateFunction.Arguments, at offset: Int) throws -> Value {
        // `obj.method(...)` calls the method directly, without building a bound method value.
        if case .attribute(let baseExpr, let name, let attrAt) = callee {
            let base = try evaluate(baseExpr)
            switch base {
            case .string where Builtins.stringMethods.contains(name),
                .object where Builtins.dictMethods.contains(name),
                .array where Builtins.listMethods.contains(name),
                .tuple where Builtins.listMethods.contains(name):
                return try callMethod(base, name, args, at: offset)
            default:
                let function = try attribute(of: base, name, at: attrAt, described: baseExpr)
                if function.isUndefined {
                    if case .string = base, Builtins.unsupportedStringMethods.contains(name) {
                        throw TemplateError.unsupported(location(attrAt), feature: "the string method '\(name)'")
                    }
                    throw runtime("'\(base.typeName) object' has no attribute '\(name)'", at: attrAt)
                }
                return try call(function, args, at: offset)
            }
        }
        let function = try evaluate(callee)
        if function.isUndefined, case .name(let n, _) = callee {
            if Builtins.unsupportedGlobals.contains(n) {
                throw TemplateError.unsupported(location(offset), feature: "the global function '\(n)'")
            }
            throw runtime("'\(n)' is undefined", at: offset)
        }
        return try call(function, args, at: offset)
    }

    func call(_ function: Value, _ args: TemplateFunction.Arguments, caller: Value? = nil, at offset: Int) throws -> Value {
        guard case .function(let f) = function else {
            throw runtime(function.isUndefined ? "an undefined value is not callable" : "'\(function.typeName)' object is not callable", at: offset)
        }
        switch f.kind {
        case .builtin(let name):
            return try callGlobal(name, args, at: offset)
        case .method(let receiver, let name):
            return try callMethod(receiver, name, args, at: offset)
        case .macro(let definition, let callerScope):
            return try invokeMacro(definition, args, caller: caller, callerScope: callerScope, at: offset)
        case .swift(let body):
            do {
                return try body(args)
            } catch let error as TemplateError {
                throw error
            } catch {
                throw runtime("\(f.name)() failed: \(error)", at: offset)
            }
        }
    }

    func invokeMacro(_ macro: MacroDefinition, _ args: TemplateFunction.Arguments, caller: Value?, callerScope: Int?, at offset: Int) throws -> Value {
        callDepth += 1
        defer { callDepth -= 1 }
        if callDepth > limits.maxCallDepth {
            throw TemplateError.limitExceeded(location(offset), limit: "macro call depth", value: limits.maxCallDepth)
        }
        var frame: [String: Value] = [:]
        let parameters = macro.parameters
        if args.positional.count > parameters.count && !macro.usesVarargs {
            throw runtime("macro '\(macro.name)' takes not more than \(parameters.count) argument(s)", at: offset)
        }
        for (i, value) in args.positional.prefix(parameters.count).enumerated() { frame[parameters[i].0] = value }
        var extraKeywords = OrderedObject()
        for (key, value) in args.keyword {
            if parameters.contains(where: { $0.0 == key }) {
                guard frame[key] == nil else { throw runtime("macro '\(macro.name)' got multiple values for argument '\(key)'", at: offset) }
                frame[key] = value
            } else if macro.usesKwargs {
                extraKeywords[key] = value
            } else {
                throw runtime("macro '\(macro.name)' takes no keyword argument '\(key)'", at: offset)
            }
        }
        if macro.usesVarargs { frame["varargs"] = .tuple(Array(args.positional.dropFirst(parameters.count))) }
        if macro.usesKwargs { frame["kwargs"] = .object(extraKeywords) }
        if let caller { frame["caller"] = caller }
        let savedVisible = visibleFrom
        scopes.append(frame)
        visibleFrom = callerScope ?? (scopes.count - 1)
        defer {
            scopes.removeLast()
            visibleFrom = savedVisible
        }
        // Defaults are evaluated in the macro's scope, so they can use earlier arguments.
        for (name, defaultExpr) in parameters where scopes[scopes.count - 1][name] == nil {
            scopes[scopes.count - 1][name] = try defaultExpr.map { try evaluate($0) } ?? .undefined
        }
        let (text, _) = try capture { try execute(macro.body) }
        return .string(text)
    }

    func evaluateCallBlock(caller: MacroDefinition, call callExpr: Expr, at offset: Int) throws -> Value {
        guard case .call(let callee, let args, let callAt) = callExpr else { return .undefined }
        let function = try evaluate(callee)
        guard case .function(let f) = function, case .macro(let definition, _) = f.kind else {
            throw runtime("'call' needs a macro to call", at: offset)
        }
        if !definition.usesCaller {
            throw runtime("macro '\(definition.name)' takes no keyword argument 'caller'", at: offset)
        }
        let callerValue = Value.function(TemplateFunction(name: "caller", kind: .macro(caller, visibleFrom: visibleFrom)))
        return try call(function, try arguments(args), caller: callerValue, at: callAt)
    }
}

extension Value {
    var isDouble: Bool {
        if case .double = self { return true }
        return false
    }
}
