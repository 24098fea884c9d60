extension BPETokenizer {
    /// Decodes as HF `decode(ids, skip_special_tokens=False)` does: added tokens are written as
    /// their text. Ids outside `0..<vocabularySize` (and unused ids) are skipped.
    public func decode(_ ids: [Int32]) -> String {
        decode(ids, skipSpecialTokens: false)
    }

    /// Decodes as HF `decode(ids, skip_special_tokens=skipSpecialTokens)` does: each id's token
    /// string (special tokens left out when `skipSpecialTokens`) through the file's decoder.
    /// Ids outside `0..<vocabularySize` (and unused ids) are skipped.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        if let steps = pipeline.decoder.steps, steps.count == 1, case .byteLevel = steps[0] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(ids.count * 4)
            for id in ids where id >= 0 && Int(id) < decodeBytes.count {
                if skipSpecialTokens && isSpecial[Int(id)] { continue }
                bytes.append(contentsOf: decodeBytes[Int(id)])
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids where id >= 0 && Int(id) < tokenStrings.count {
            let i = Int(id)
            guard inModelVocabulary[i] || addedByContent[tokenStrings[i]]?.id == id else { continue }
            if skipSpecialTokens && isSpecial[i] { continue }
            tokens.append(decodeStrings[i])
        }
        return pipeline.decoder.decode(tokens)
    }
}
