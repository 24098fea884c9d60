/// The syntax tree of a parsed template. Every node that can fail at run time keeps the byte
/// offset of its token (`at`) so errors can name the line and column.

/// The arguments written at a call site: `f(a, b, key=c)`.
struct CallArguments: Sendable {
    var positional: [Expr] = []
    var keyword: [(String, Expr)] = []
    var isEmpty: Bool { positional.isEmpty && keyword.isEmpty }
}

/// `| name(args)`: a filter resolved to its implementation when the template is parsed.
/// `filter` is nil for an unknown filter inside an `if`, which jinja2 reports only if reached.
struct FilterCall: Sendable {
    var name: String
    var filter: Filter?
    var arguments: CallArguments
    var at: Int
}

/// `is [not] name(args)`.
struct TestCall: Sendable {
    var name: String
    var test: TemplateTest?
    var arguments: CallArguments
    var at: Int
}

enum CompareOperator: String, Sendable {
    case eq = "==", ne = "!=", lt = "<", ltEq = "<=", gt = ">", gtEq = ">=", `in` = "in", notIn = "not in"
}

indirect enum Expr: Sendable {
    case constant(Value)
    case name(String, at: Int)
    case list([Expr])
    case tuple([Expr])
    case dict([(Expr, Expr)], at: Int)
    case attribute(Expr, String, at: Int)
    case item(Expr, Expr, at: Int)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?, at: Int)
    case negate(Expr, at: Int)
    case plus(Expr, at: Int)
    case binary(Operator, Expr, Expr, at: Int)
    case concat([Expr])
    case and(Expr, Expr)
    case or(Expr, Expr)
    case not(Expr)
    case compare(Expr, [(CompareOperator, Expr)], at: Int)
    case conditional(test: Expr, then: Expr, else: Expr?)
    case filter(Expr, FilterCall)
    case test(Expr, TestCall, negated: Bool)
    case call(Expr, CallArguments, at: Int)
    /// The rendered body of a `{% filter %}` or `{% set x | f %}` block, the input of its filters.
    case blockInput
}

/// Where `set`, `for` and `with` put values.
indirect enum AssignTarget: Sendable {
    case name(String)
    case tuple([AssignTarget], at: Int)
    case namespaceAttribute(String, String, at: Int)
}

struct ForLoop: Sendable {
    var target: AssignTarget
    var iterable: Expr
    var condition: Expr?
    var body: [Node]
    var elseBody: [Node]
    var at: Int
}

/// A macro (or the body of a `{% call %}` block, which is the macro `caller`).
final class MacroDefinition: Sendable {
    let name: String
    let parameters: [(String, Expr?)]
    let body: [Node]
    /// Whether the body reads `varargs` / `kwargs` / `caller`; jinja2 rejects extra
    /// arguments to a macro whose body does not read them.
    let usesVarargs: Bool
    let usesKwargs: Bool
    let usesCaller: Bool
    let at: Int

    init(name: String, parameters: [(String, Expr?)], body: [Node], usedNames: Set<String>, at: Int) {
        self.name = name
        self.parameters = parameters
        self.body = body
        self.usesVarargs = usedNames.contains("varargs")
        self.usesKwargs = usedNames.contains("kwargs")
        self.usesCaller = usedNames.contains("caller")
        self.at = at
    }
}

indirect enum Node: Sendable {
    case text(String)
    case output(Expr)
    case ifChain([(Expr, [Node])], elseBody: [Node])
    case forLoop(ForLoop)
    case set(AssignTarget, Expr, at: Int)
    case setBlock(AssignTarget, body: [Node], filter: Expr?, at: Int)
    case macro(MacroDefinition)
    case callBlock(caller: MacroDefinition, call: Expr, at: Int)
    case filterBlock(Expr, body: [Node], at: Int)
    case loopControl(isBreak: Bool, at: Int)
    case generation([Node], at: Int)
    case with([(AssignTarget, Expr)], body: [Node])
}
