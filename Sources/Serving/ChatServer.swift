import Datasets
import Foundation
import Hummingbird
import Inference
import Logging
import NIOCore
import ServiceLifecycle

/// An OpenAI-compatible HTTP server for one checkpoint, on Hummingbird (SwiftNIO).
///
/// Endpoints: `POST /v1/chat/completions` (messages rendered with the checkpoint's chat
/// template), `POST /v1/completions` (a text continued as is), `GET /v1/models`,
/// `GET /v1/models/{id}` and `GET /health`. Answers stop at the model card's stop ids and
/// strings plus the request's `stop`, through `GenerationOptions(card:)`; streamed answers are
/// Server-Sent Events whose pieces concatenate to the non-streamed text. Requests wait in a
/// `GenerationQueue`, which batches the compatible ones. Every refusal is an OpenAI-style error
/// body with its status (`ServingError`).
///
/// `run()` serves until `shutdown()`: then the server stops accepting connections, finishes
/// every request already received (streams included), stops the generation thread and
/// returns. The library installs no signal handlers and prints nothing: the command line turns
/// Ctrl-C into `shutdown()` and prints `ServerEvent`s.
public final class ChatServer: @unchecked Sendable {  // immutable after init; the queue and group are thread-safe
    /// How the server listens and what it takes on.
    public let options: ServerOptions
    /// The model's requests and its generation thread.
    public let queue: GenerationQueue
    private let onEvent: @Sendable (ServerEvent) -> Void
    private let group: ServiceGroup
    private let created = Int(Date().timeIntervalSince1970)
    private let inFlight = InFlightCounter()

    /// A server for `model`; nothing listens until `run()`. `onEvent` is called from server
    /// threads, possibly concurrently. Throws `ServingError.invalidParameter` for bad options.
    public init(model: LoadedModel, options: ServerOptions, onEvent: @escaping @Sendable (ServerEvent) -> Void = { _ in }) throws {
        let problems = options.problems()
        if !problems.isEmpty { throw ServingError.invalidParameter(param: "server options", reason: problems.joined(separator: "; ")) }
        self.options = options
        self.onEvent = onEvent
        queue = GenerationQueue(model: model, maxBatchSize: options.maxBatchSize, maxWaiting: options.maxWaiting,
                                batchWindow: options.batchWindow)
        let quiet = Logger(label: "instruct.serve", factory: { _ in SwiftLogNoOpLogHandler() })
        let router = Router(context: BasicRequestContext.self)
        let endpoints = Endpoints(queue: queue, options: options, created: created, onEvent: onEvent, inFlight: inFlight)
        if let origin = options.allowedOrigin {
            // Before the key check: a browser's preflight (OPTIONS) carries no key.
            router.add(middleware: CORSMiddleware(allowOrigin: origin == "*" ? .all : .custom(origin), allowHeaders: [.accept, .authorization, .contentType, .origin],
                                                  allowMethods: [.get, .post, .options]))
        }
        router.add(middleware: ErrorMiddleware(endpoints: endpoints))
        router.get("/health") { _, _ in endpoints.json(APIHealth(status: "ok")) }
        router.get("/v1/models") { _, _ in endpoints.json(APIResponse.ModelList(id: options.modelID, created: endpoints.created)) }
        router.get("/v1/models/:id") { _, context in try endpoints.model(id: context.parameters.get("id") ?? "") }
        router.post("/v1/chat/completions") { request, _ in try await endpoints.generate(request, chat: true) }
        router.post("/v1/completions") { request, _ in try await endpoints.generate(request, chat: false) }
        let host = options.host
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: options.port), serverName: "instruct"),
            onServerRunning: { channel in onEvent(.listening(host: host, port: channel.localAddress?.port ?? options.port)) },
            logger: quiet)
        group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: quiet))
    }

    /// Serves until `shutdown()`, then finishes the requests in flight, stops the generation
    /// thread and returns. Throws `ServingError.cannotListen` when the address cannot be bound.
    public func run() async throws {
        defer { queue.stop() }
        do {
            try await group.run()
        } catch {
            throw ServingError.cannotListen(host: options.host, port: options.port, reason: "\(error)")
        }
    }

    /// Starts a graceful shutdown: no new connections; requests already received are answered.
    public func shutdown() async {
        onEvent(.shuttingDown(inFlight: inFlight.value))
        await group.triggerGracefulShutdown()
    }
}

/// `GET /health`.
struct APIHealth: Encodable { var status: String }

/// Requests being answered, for the shutdown report.
final class InFlightCounter: @unchecked Sendable {  // `count` is behind `lock`
    private let lock = NSLock()
    private var count = 0

    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    func add(_ n: Int) { lock.lock(); count += n; lock.unlock() }
}

/// Turns every error into an OpenAI-style body (an unknown path too), checks the API key, and
/// reports each request.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let endpoints: Endpoints

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let method = request.method.rawValue, path = request.uri.path
        func refuse(_ error: ServingError) -> Response {
            endpoints.report(RequestRecord(method: method, path: path, status: error.status,
                                           seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                                           error: error.description))
            return endpoints.error(error)
        }
        if let key = endpoints.options.apiKey, path != "/health" {
            let given = request.headers[.authorization] ?? ""
            let token = given.hasPrefix("Bearer ") ? String(given.dropFirst("Bearer ".count)) : ""
            guard Endpoints.sameKey(token, key) else { return refuse(.unauthorized) }
        }
        do {
            return try await next(request, context)
        } catch let error as ServingError {
            return refuse(error)
        } catch let error as HTTPError where error.status == .notFound {
            return refuse(.notFound(method: method, path: path))
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return refuse(.bodyTooLarge(limit: endpoints.options.maxBodyBytes))
        } catch is NIOTooManyBytesError {
            return refuse(.bodyTooLarge(limit: endpoints.options.maxBodyBytes))
        } catch {
            return refuse(.generationFailed(reason: "\(error)"))
        }
    }
}

/// The endpoints' work, shared by the routes.
struct Endpoints: Sendable {
    let queue: GenerationQueue
    let options: ServerOptions
    let created: Int
    let onEvent: @Sendable (ServerEvent) -> Void
    let inFlight: InFlightCounter

    func report(_ record: RequestRecord) { onEvent(.request(record)) }

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: APIResponse.json(value))))
    }

    func error(_ error: ServingError) -> Response {
        var response = json(APIResponse.ErrorBody(error: error), status: HTTPResponse.Status(code: error.status))
        if error == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }

    func model(id: String) throws -> Response {
        guard id == options.modelID else { throw ServingError.unknownModel(requested: id, served: options.modelID) }
        return json(APIResponse.ModelEntry(id: id, created: created))
    }

    /// Whether two keys are equal, in time that depends only on their lengths (never on where
    /// they first differ), so a client cannot find the key byte by byte from response times.
    static func sameKey(_ given: String, _ key: String) -> Bool {
        let a = Array(given.utf8), b = Array(key.utf8)
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }

    /// The body, at most `maxBodyBytes` (a declared larger length is refused before reading).
    func body(_ request: Request) async throws -> Data {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > options.maxBodyBytes {
            throw ServingError.bodyTooLarge(limit: options.maxBodyBytes)
        }
        do {
            var buffer = try await request.body.collect(upTo: options.maxBodyBytes)
            return Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch is NIOTooManyBytesError {
            throw ServingError.bodyTooLarge(limit: options.maxBodyBytes)
        }
    }

    /// The prompt ids of `input`: a conversation through the card's chat template (an empty
    /// assistant turn appended, the prompt cut before it), or a text encoded as is (special-token
    /// texts become their ids; BOS when the tokenizer's post-processor adds one).
    func promptTokens(_ input: APIRequest.Input) throws -> [Int32] {
        let model = queue.model
        switch input {
        case let .chat(messages):
            do {
                return try model.encoder.promptTokens(.chat(messages + [Message(role: .assistant, content: "")]))
            } catch {
                throw ServingError.templateFailed(reason: "\(error)")
            }
        case let .text(text):
            var tokens = model.tokenizer.encode(text, allowSpecial: true)
            if model.tokenizer.addsBOS, let bos = model.tokenizer.bosTokenID, tokens.first != bos { tokens.insert(bos, at: 0) }
            if tokens.isEmpty { throw ServingError.invalidParameter(param: "prompt", reason: "encodes to no tokens; give some text") }
            return tokens
        }
    }

    /// `POST /v1/chat/completions` (`chat`) or `POST /v1/completions`.
    func generate(_ request: Request, chat: Bool) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let path = request.uri.path
        let data = try await body(request)
        let api = chat ? try APIRequest.chat(data, defaults: options.defaultSampling)
                       : try APIRequest.completion(data, defaults: options.defaultSampling)
        if let name = api.model, name != options.modelID {
            throw ServingError.unknownModel(requested: name, served: options.modelID)
        }
        let prompt = try promptTokens(api.input)
        let context = queue.model.model.config.contextLength
        if prompt.count >= context || prompt.count + (api.maxTokens ?? 0) > context {
            throw ServingError.contextLengthExceeded(promptTokens: prompt.count, maxTokens: api.maxTokens, contextLength: context)
        }
        let job = GenerationJob(prompt: prompt, sampling: api.sampling, maxNewTokens: api.maxTokens ?? options.defaultMaxTokens,
                                stopStrings: api.stop, seed: api.seed)
        let events = try queue.submit(job)
        let header = APIResponse.Header(id: (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(),
                                        created: Int(Date().timeIntervalSince1970), model: options.modelID)
        let report: @Sendable (Int, GenerationSummary?, String?) -> Void = { [onEvent] status, summary, error in
            onEvent(.request(RequestRecord(method: "POST", path: path, status: status, promptTokens: prompt.count,
                                           completionTokens: summary?.completionTokens, batchSize: summary?.batchSize,
                                           seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, error: error)))
        }
        inFlight.add(1)
        if api.stream {
            return stream(events, header: header, chat: chat, includeUsage: api.includeUsage, report: report)
        }
        defer { inFlight.add(-1) }
        for await event in events {
            switch event {
            case .text:
                continue
            case let .failed(error):
                report(error.status, nil, error.description)
                return self.error(error)
            case let .finished(summary):
                report(200, summary, nil)
                return json(APIResponse.Object(header: header, kind: chat ? .chat : .text, text: summary.text,
                                               finish: APIResponse.finishReason(summary.stopReason),
                                               usage: .init(promptTokens: summary.promptTokens, completionTokens: summary.completionTokens)))
            }
        }
        // The stream ends without `finished` only when this task was cancelled (the client left).
        throw ServingError.shuttingDown
    }

    /// A Server-Sent Events response: a first chunk with the role, one chunk per piece of text,
    /// one with the finish reason, the usage chunk when asked, then `[DONE]`.
    func stream(_ events: AsyncStream<GenerationEvent>, header: APIResponse.Header, chat: Bool, includeUsage: Bool,
                report: @escaping @Sendable (Int, GenerationSummary?, String?) -> Void) -> Response {
        let kind: APIResponse.Kind = chat ? .chatChunk : .textChunk
        let inFlight = self.inFlight
        let body = ResponseBody { writer in
            defer { inFlight.add(-1) }
            func send(_ data: Data) async throws { try await writer.write(ByteBuffer(bytes: data)) }
            if chat { try await send(APIResponse.event(APIResponse.Object(header: header, kind: kind, text: "", role: true))) }
            for await event in events {
                switch event {
                case let .text(piece):
                    try await send(APIResponse.event(APIResponse.Object(header: header, kind: kind, text: piece)))
                case let .failed(error):
                    report(error.status, nil, error.description)
                    try await send(APIResponse.event(APIResponse.ErrorBody(error: error)))
                case let .finished(summary):
                    report(200, summary, nil)
                    try await send(APIResponse.event(APIResponse.Object(header: header, kind: kind, text: chat ? nil : "",
                                                                        finish: APIResponse.finishReason(summary.stopReason))))
                    if includeUsage {
                        try await send(APIResponse.event(APIResponse.Object(
                            header: header, kind: kind, usage: .init(promptTokens: summary.promptTokens, completionTokens: summary.completionTokens),
                            noChoices: true)))
                    }
                }
            }
            try await send(APIResponse.done)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
