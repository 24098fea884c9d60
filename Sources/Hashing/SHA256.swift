import Foundation

#if canImport(CryptoKit)
import CryptoKit
#else
import CCrypto
#endif

/// SHA-256 (FIPS 180-4), incremental: the one digest InstructKit uses (checkpoint manifests,
/// the LoRA base identity, data-cache keys, synthetic-data manifests).
///
/// On Linux it is OpenSSL's libcrypto through its EVP interface (Debian's `libssl-dev`, found
/// with pkg-config); on macOS CryptoKit. Both use the CPU's SHA or vector instructions where
/// present, so hashing a checkpoint runs at disk speed.
///
/// A value type: a copy continues independently of the original, and `finalize()` leaves the
/// hasher as it was (more bytes may follow, and finalizing again gives the digest of all).
///
/// ```swift
/// var h = SHA256()
/// h.update(Array("ab".utf8))
/// h.update(Array("c".utf8))
/// SHA256.hex(h.finalize())   // "ba7816bf…" (the digest of "abc")
/// ```
public struct SHA256: Sendable {
    /// Bytes in a digest.
    public static let byteCount = 32

    #if canImport(CryptoKit)
    private var hasher = CryptoKit.SHA256()
    #else
    private var context = EVPContext()
    #endif

    /// A hasher that has seen no bytes.
    public init() {}

    /// Adds `bytes` to the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        #if canImport(CryptoKit)
        hasher.update(bufferPointer: bytes)
        #else
        if !isKnownUniquelyReferenced(&context) { context = context.copy() }
        context.update(bytes)
        #endif
    }

    /// Adds `bytes` (an array, slice or `Data`) to the message.
    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest of every byte added so far.
    public func finalize() -> [UInt8] {
        #if canImport(CryptoKit)
        return Array(hasher.finalize())
        #else
        return context.copy().finish()
        #endif
    }

    /// The digest of `bytes`.
    public static func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        var h = SHA256()
        h.update(bytes)
        return h.finalize()
    }

    /// `bytes` as lower-case hexadecimal, two digits per byte (how manifests write digests).
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

#if !canImport(CryptoKit)
/// An OpenSSL `EVP_MD_CTX` set up for SHA-256, freed with its owner. `SHA256` copies it before
/// writing whenever it is shared, so each instance is only ever mutated through one owner.
private final class EVPContext: @unchecked Sendable {
    let ctx: OpaquePointer

    init() {
        // EVP_MD_CTX_new fails only when malloc does, and EVP_DigestInit_ex with SHA-256 only
        // when OpenSSL's default provider is missing (a broken installation): neither is
        // something a caller could handle, so both stop with a message.
        guard let ctx = EVP_MD_CTX_new() else { fatalError("SHA256: out of memory (EVP_MD_CTX_new)") }
        guard EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else {
            fatalError("SHA256: OpenSSL cannot initialise SHA-256; check the libcrypto installation (libssl3)")
        }
        self.ctx = ctx
    }

    private init(copying other: EVPContext) {
        guard let ctx = EVP_MD_CTX_new() else { fatalError("SHA256: out of memory (EVP_MD_CTX_new)") }
        guard EVP_MD_CTX_copy_ex(ctx, other.ctx) == 1 else { fatalError("SHA256: EVP_MD_CTX_copy_ex failed") }
        self.ctx = ctx
    }

    deinit { EVP_MD_CTX_free(ctx) }

    func copy() -> EVPContext { EVPContext(copying: self) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        // Cannot fail for an initialised SHA-256 context and a valid buffer.
        _ = EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
    }

    /// The digest; the context cannot be updated afterwards (callers finish a copy).
    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: SHA256.byteCount)
        var length: UInt32 = 0
        let ok = out.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(ctx, $0.baseAddress, &length) }
        precondition(ok == 1 && length == UInt32(SHA256.byteCount), "SHA256: EVP_DigestFinal_ex failed")
        return out
    }
}
#endif
