import ArgumentParser
import Autograd
import Datasets
import Foundation
import Inference
import Recipes
import Training

/// `instruct chat CKPT`: a conversation on standard input.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Talk to a trained checkpoint, one line per turn, keeping the conversation.",
        discussion: """
            Each line on standard input is a user turn; the answer streams to standard output.
            The whole conversation is rendered with the checkpoint's template (a chat with
            user and assistant turns). When it no longer fits the context, the oldest turns
            are dropped. Commands:
              /reset        forget the conversation (keeps the system prompt)
              /system TEXT  set the system prompt (and forget the conversation)
              /exit         quit (end of input also quits)
            Works with a pipe:
              printf 'Sort: 3 1 2\\n/exit\\n' | instruct chat checkpoints/quickstart
            """)

    @Argument(help: "A checkpoint directory (step-NNNNNNN), a run directory (its latest), or a run's latest file.")
    var checkpoint: String
    @Option(help: "System prompt (default: the one the recipe trained with, if any).")
    var system: String?
    @OptionGroup var sampling: SamplingArguments

    func run() throws {
        try reportingErrors { try chat() }
    }

    private func chat() throws {
        BLAS.setThreadCount(sampling.threads)
        var loaded = try LoadedModel.open(path: checkpoint, verify: !sampling.noVerify)
        try loaded.useWeights(sampling.weights)
        let encoder = loaded.encoder
        let interactive = isatty(0) != 0
        var systemPrompt = system
        var history: [Message] = []
        var rng = RNG(seed: sampling.seed)
        if interactive {
            print("chat with \(loaded.directory.path) (\(loaded.encoder.template.name == "model" ? "its own chat" : loaded.encoder.template.name) template); /reset, /system TEXT, /exit")
        }
        while true {
            if interactive { FileHandle.standardOutput.write(Data("> ".utf8)) }
            guard let line = readLine() else { break }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text == "/exit" || text == "/quit" { break }
            if text == "/reset" {
                history = []
                print("[conversation reset]")
                continue
            }
            if text == "/system" || text.hasPrefix("/system ") {
                let value = String(text.dropFirst("/system".count)).trimmingCharacters(in: .whitespaces)
                systemPrompt = value.isEmpty ? nil : value
                history = []
                print(value.isEmpty ? "[system prompt cleared; conversation reset]" : "[system prompt set; conversation reset]")
                continue
            }
            if text.hasPrefix("/") {
                print("[unknown command \(text.split(separator: " ")[0]); use /reset, /system TEXT or /exit]")
                continue
            }
            history.append(Message(role: .user, content: text))
            // Drop the oldest exchanges until the prompt leaves room for at least one token.
            var prompt = try tokens(encoder, systemPrompt, history)
            while prompt.count >= loaded.model.config.contextLength && history.count > 1 {
                history.removeFirst(history.count >= 3 ? 2 : 1)
                prompt = try tokens(encoder, systemPrompt, history)
            }
            do {
                let answer = try streamAnswer(loaded, prompt: prompt, arguments: sampling, rng: &rng)
                print("")
                history.append(Message(role: .assistant, content: answer.text))
            } catch let error as CommandFailure {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                history.removeLast()
            }
        }
    }

    /// The prompt for `history` (ending in a user turn): the chat with an empty assistant
    /// turn appended, cut before it.
    private func tokens(_ encoder: ExampleEncoder, _ system: String?, _ history: [Message]) throws -> [Int32] {
        var messages: [Message] = []
        if let system { messages.append(Message(role: .system, content: system)) }
        messages += history
        messages.append(Message(role: .assistant, content: ""))
        return try encoder.promptTokens(.chat(messages))
    }
}
