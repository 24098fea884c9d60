import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 client for an IPv4 address on this machine, for the load test
/// and the tests: one connection per request (`Connection: close`), read to the end, chunked
/// bodies decoded. It sends exactly the bytes it is given, so tests can send what a real
/// client never would (broken JSON, a 10 MB body, a wrong length). Every socket call has a
/// timeout, so a stuck server fails a request instead of hanging it.
public enum LoopbackHTTP {
    /// One response as received.
    public struct Response: Sendable {
        /// The status code (200, 400, ...).
        public var status: Int
        /// Header fields, names lowercased (the last value when repeated).
        public var headers: [String: String]
        /// The body (chunked transfer decoded).
        public var body: Data
        /// Seconds from the start of the request to the first byte of the response, and to its end.
        public var firstByteSeconds: Double
        public var seconds: Double

        /// The body as UTF-8 text.
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The body parsed as a JSON object (nil when it is not one).
        public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }

        /// The `data:` payloads of a Server-Sent Events body, in order (`[DONE]` included).
        public var events: [String] {
            text.components(separatedBy: "\n\n").compactMap { block in
                let lines = block.split(separator: "\n", omittingEmptySubsequences: true)
                let data = lines.filter { $0.hasPrefix("data:") }.map { $0.dropFirst(5).drop { $0 == " " } }
                return data.isEmpty ? nil : data.joined(separator: "\n")
            }
        }
    }

    /// Sends `method path` with `body` (as JSON unless `headers` says otherwise) and returns the
    /// response; `onFirstByte` is called when its first bytes arrive. Throws
    /// `ServingError.clientFailed` when the connection fails or times out.
    public static func request(port: Int, host: String = "127.0.0.1", method: String, path: String, body: Data? = nil,
                               headers: [String: String] = [:], timeout: Double = 120,
                               onFirstByte: (() -> Void)? = nil) throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        var fields = headers
        if let body {
            if fields.keys.first(where: { $0.lowercased() == "content-type" }) == nil { fields["Content-Type"] = "application/json" }
            if fields.keys.first(where: { $0.lowercased() == "content-length" }) == nil { fields["Content-Length"] = "\(body.count)" }
        }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return try exchange(port: port, host: host, bytes: Data(head.utf8) + (body ?? Data()), timeout: timeout, onFirstByte: onFirstByte)
    }

    /// Sends `bytes` as they are and parses what comes back (the server closes the connection
    /// after one response to a `Connection: close` request). A server that answers before
    /// reading the whole request (a body too large) may reset the connection: what it wrote is
    /// still returned.
    public static func exchange(port: Int, host: String = "127.0.0.1", bytes: Data, timeout: Double = 120,
                                onFirstByte: (() -> Void)? = nil) throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        func fail(_ what: String) -> ServingError {
            .clientFailed(host: host, port: port, reason: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { throw fail("socket") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw ServingError.clientFailed(host: host, port: port, reason: "not an IPv4 address")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 { throw fail("connect") }
        // Send everything, unless the server answers first (a body it refuses unread): then
        // stop sending and read, as curl does, rather than block on a peer that stopped reading.
        bytes.withUnsafeBytes { raw in
            var sent = 0
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
            while sent < raw.count && DispatchTime.now().uptimeNanoseconds < deadline {
                var p = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT), revents: 0)
                if poll(&p, 1, 100) < 0 && errno != EINTR { break }
                if p.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 { break }
                if p.revents & Int16(POLLOUT) == 0 { continue }
                // raw.count > sent >= 0, so the buffer is not empty and has a base address.
                let n = send(fd, raw.baseAddress! + sent, min(raw.count - sent, 1 << 16), Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                if n <= 0 { break }
                sent += n
            }
        }
        shutdown(fd, Int32(SHUT_WR))
        var received = Data()
        var firstByte: UInt64?
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 {
                if firstByte == nil {
                    firstByte = DispatchTime.now().uptimeNanoseconds
                    onFirstByte?()
                }
                received.append(contentsOf: chunk[0..<n])
            } else if n == 0 || errno == ECONNRESET {
                break
            } else if errno != EINTR {
                if received.isEmpty { throw fail("recv") }
                break
            }
        }
        let end = DispatchTime.now().uptimeNanoseconds
        var response = try parse(received, host: host, port: port)
        response.firstByteSeconds = Double((firstByte ?? end) - start) / 1e9
        response.seconds = Double(end - start) / 1e9
        return response
    }

    /// Status line, headers and body of a whole response.
    static func parse(_ data: Data, host: String, port: Int) throws -> Response {
        let bytes = [UInt8](data)
        guard let split = find([13, 10, 13, 10], in: bytes, from: 0) else {
            throw ServingError.clientFailed(host: host, port: port, reason: "the response has no complete header (\(bytes.count) bytes received)")
        }
        let lines = String(decoding: bytes[0..<split], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw ServingError.clientFailed(host: host, port: port, reason: "bad status line \"\(lines[0])\"")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(split + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = try dechunk(body, host: host, port: port)
        }
        return Response(status: status, headers: headers, body: Data(body), firstByteSeconds: 0, seconds: 0)
    }

    /// The payload of a chunked body.
    static func dechunk(_ bytes: [UInt8], host: String, port: Int) throws -> [UInt8] {
        var out: [UInt8] = [], i = 0
        while i < bytes.count {
            guard let lineEnd = find([13, 10], in: bytes, from: i),
                  let size = Int(String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";")[0]
                                    .trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw ServingError.clientFailed(host: host, port: port, reason: "bad chunk size at byte \(i) of the body")
            }
            if size == 0 { return out }
            let start = lineEnd + 2
            guard start + size <= bytes.count else {
                throw ServingError.clientFailed(host: host, port: port, reason: "a chunk runs past the end of the body (truncated response)")
            }
            out += bytes[start..<(start + size)]
            i = start + size + 2
        }
        throw ServingError.clientFailed(host: host, port: port, reason: "the chunked body has no final chunk (truncated response)")
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        for i in from...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}
