import ArgumentParser
import Foundation
import Tokenizers

/// `instruct bench tokenizer`: encoding speed in MB/s of UTF-8 input, on 1 and 2 threads.
struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Measure tokenizer encoding speed (MB/s of UTF-8 text) on one and two threads.",
        discussion: """
            Each line of --file is one text. Every run encodes the whole file with a freshly
            loaded tokenizer (cold word cache), --repeat times; the best run is reported. With two
            threads the lines are split into two contiguous halves; the ids are checked to be
            identical to the one-thread ids.
            Example:
              instruct bench tokenizer --tokenizer ../shared/datasets/tokenizers/gpt2 \\
                  --file text.txt --threads 2
            """)

    @Option(help: "tokenizer.json, a directory with tokenizer.json or vocab.json + merges.txt, or a llama2.c .bin")
    var tokenizer: String

    @Option(help: "Text file; each line is encoded as one text.")
    var file: String

    @Option(help: "Largest thread count to measure: 1, or 2 to measure 1 and 2.")
    var threads = 2

    @Option(help: "Runs per thread count; the fastest is reported.")
    var `repeat` = 3

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        guard (1...2).contains(threads) else { throw ValidationError("--threads must be 1 or 2") }
        guard self.repeat >= 1 else { throw ValidationError("--repeat must be at least 1") }
        let lines = try readInputLines(file)
        let bytes = lines.reduce(0) { $0 + $1.utf8.count }
        var reference: [[Int32]] = []
        var results: [(threads: Int, seconds: Double, tokens: Int)] = []
        for t in 1...threads {
            var best = Double.infinity
            var tokens = 0
            for _ in 0..<self.repeat {
                let tok = try loadTokenizerForCLI(tokenizer)
                let start = DispatchTime.now().uptimeNanoseconds
                let ids = encodeTexts(lines, with: tok, allowSpecial: true, threads: t)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                best = min(best, seconds)
                tokens = ids.reduce(0) { $0 + $1.count }
                if reference.isEmpty { reference = ids }
                if ids != reference {
                    throw CommandFailure("ids with \(t) threads differ from one thread: this is a bug")
                }
            }
            results.append((t, best, tokens))
        }
        let mb = Double(bytes) / 1e6
        if json {
            let runs = results.map {
                "{\"threads\":\($0.threads),\"seconds\":\($0.seconds),\"mb_per_s\":\(mb / $0.seconds),\"tokens\":\($0.tokens)}"
            }
            writeStdout("{\"tokenizer\":\(jsonStringLiteral(tokenizer)),\"file\":\(jsonStringLiteral(file)),"
                + "\"bytes\":\(bytes),\"lines\":\(lines.count),\"runs\":[\(runs.joined(separator: ","))]}\n")
        } else {
            var out = "tokenizer \(tokenizer)\nfile \(file): \(bytes) bytes, \(lines.count) lines\n"
            for r in results {
                out += String(format: "threads %d: %8.2f MB/s  %10.0f tokens/s  (%.3f s, %d tokens)\n",
                              r.threads, mb / r.seconds, Double(r.tokens) / r.seconds, r.seconds, r.tokens)
            }
            writeStdout(out)
        }
    }
}
