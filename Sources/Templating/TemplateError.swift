/// Where in a template something happened: the template's name, 1-based line and column.
///
/// Columns count Unicode scalars (what Python calls characters) from the start of the line.
/// Lines count `\n`, `\r\n` and `\r` alike, as jinja2 does.
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The name given to `Template(source:name:)`, e.g. `chat_template` or a file path.
    public var template: String
    /// 1-based line number.
    public var line: Int
    /// 1-based column, in Unicode scalars.
    public var column: Int

    /// Creates a location.
    public init(template: String, line: Int, column: Int) {
        self.template = template
        self.line = line
        self.column = column
    }

    /// `name:line:column`, the form compilers use.
    public var description: String { "\(template):\(line):\(column)" }
}

/// Everything that can go wrong while parsing or rendering a template.
///
/// Every case carries the template name, line and column (except `invalidJSON`, which is
/// about JSON input, not a template) and its `description` says what is wrong and what is
/// supported instead. Nothing unsupported is ignored silently: an unknown tag, filter, test,
/// method or global is an error that names it.
public enum TemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The template text is not valid Jinja: an unclosed tag or string, a stray token, a bad literal.
    case syntax(SourceLocation, message: String)
    /// A `{% tag %}` that is not one of the supported statements.
    case unknownTag(SourceLocation, tag: String)
    /// A `| filter` that is not implemented.
    case unknownFilter(SourceLocation, name: String)
    /// An `is test` that is not implemented.
    case unknownTest(SourceLocation, name: String)
    /// Something jinja2 has that this interpreter does not: a method, a global, an argument form.
    case unsupported(SourceLocation, feature: String)
    /// Rendering failed the way jinja2 fails at run time: an operation on the wrong types, an
    /// attribute of an undefined value, a division by zero, a call of something not callable.
    case runtime(SourceLocation, message: String)
    /// The template called `raise_exception(message)`. `message` is exactly what it passed,
    /// the text transformers puts in its `TemplateError`.
    case raised(message: String, location: SourceLocation)
    /// A safety cap was hit (see `RenderLimits`): `limit` names it, `value` is the cap.
    case limitExceeded(SourceLocation, limit: String, value: Int)
    /// `Value.parseJSON` was given malformed JSON; `offset` is the UTF-8 byte offset.
    case invalidJSON(offset: Int, message: String)
    /// `ChatTemplate.render` was given something transformers would also refuse, e.g. a
    /// message that is not a dict; `template` is the template's name.
    case invalidChat(template: String, message: String)

    /// The location of the error, when it has one.
    public var location: SourceLocation? {
        switch self {
        case .syntax(let l, _), .unknownTag(let l, _), .unknownFilter(let l, _), .unknownTest(let l, _),
            .unsupported(let l, _), .runtime(let l, _), .limitExceeded(let l, _, _):
            return l
        case .raised(_, let l):
            return l
        case .invalidJSON, .invalidChat:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .syntax(let l, let message):
            return "\(l): syntax error: \(message)."
        case .unknownTag(let l, let tag):
            return "\(l): unknown tag '\(tag)'. Supported tags: \(Builtins.supportedTags.joined(separator: ", "))."
        case .unknownFilter(let l, let name):
            return "\(l): no filter named '\(name)'. Supported filters: \(Builtins.filterNames.joined(separator: ", "))."
        case .unknownTest(let l, let name):
            return "\(l): no test named '\(name)'. Supported tests: \(Builtins.testNames.joined(separator: ", "))."
        case .unsupported(let l, let feature):
            return "\(l): \(feature) is not supported by InstructKit's Jinja interpreter (docs/templating.md lists what is)."
        case .runtime(let l, let message):
            return "\(l): \(message)."
        case .raised(let message, let l):
            return "\(l): the template raised an exception: \(message)"
        case .limitExceeded(let l, let limit, let value):
            return "\(l): \(limit) exceeded the cap of \(value). The template loops or grows without bound, "
                + "or the input is far larger than a chat; raise the cap in RenderLimits only if the input really needs it."
        case .invalidJSON(let offset, let message):
            return "JSON input, byte \(offset): \(message)."
        case .invalidChat(let template, let message):
            return "\(template): \(message)."
        }
    }
}
