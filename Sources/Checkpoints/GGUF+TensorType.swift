/// A ggml tensor type: how a GGUF tensor's elements are stored.
///
/// Raw values are ggml's type codes (`enum ggml_type`, gguf-py's `GGMLQuantizationType`);
/// codes 4 and 5 (the removed Q4_2 and Q4_3) and the gaps after 30 are not types. Block types
/// store `blockSize` consecutive elements (along `ne0`, the fastest-varying dimension) in
/// `typeSize` bytes; plain types have a block size of 1.
public enum GGUFTensorType: UInt32, CaseIterable, Sendable {
    /// Plain floats and the legacy 32-element block types.
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    /// The K-quants: 256-element super-blocks of 16 or 32-element sub-blocks.
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    /// The importance-matrix quants (lattice codebooks); read as raw blocks only.
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    /// Integers, double precision, IQ1_M and bfloat16.
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    /// Ternary and 4-bit floating-point block types; read as raw blocks only.
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// ggml's name for the type (`Q4_K`, `BF16`, ...), as llama.cpp and gguf-py print it.
    public var name: String {
        // The case names are ggml's with a lower-case first letter (`q4_K`, `iq2_xxs`, `bf16`);
        // upper-casing gives ggml's spelling (`Q4_K`, `IQ2_XXS`, `BF16`).
        String(describing: self).uppercased()
    }

    /// The number of elements stored together in one block (1 for plain types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_nl, .mxfp4: return 32
        case .nvfp4: return 64
        case .q1_0: return 128
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K, .iq2_xxs, .iq2_xs, .iq3_xxs, .iq1_s,
             .iq3_s, .iq2_s, .iq4_xs, .iq1_m, .tq1_0, .tq2_0:
            return 256
        }
    }

    /// The number of bytes one block takes (ggml's `type_size`; gguf-py's `GGML_QUANT_SIZES`).
    public var typeSize: Int {
        let qk = 256
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .f64, .i64: return 8
        case .i8: return 1
        case .q4_0: return 2 + 16
        case .q4_1: return 2 + 2 + 16
        case .q5_0: return 2 + 4 + 16
        case .q5_1: return 2 + 2 + 4 + 16
        case .q8_0: return 2 + 32
        case .q8_1: return 4 + 4 + 32
        case .q2_K: return 2 + 2 + qk / 16 + qk / 4
        case .q3_K: return 2 + qk / 4 + qk / 8 + 12
        case .q4_K: return 2 + 2 + qk / 2 + 12
        case .q5_K: return 2 + 2 + qk / 2 + qk / 8 + 12
        case .q6_K: return 2 + qk / 2 + qk / 4 + qk / 16
        case .q8_K: return 4 + qk + qk / 8
        case .iq2_xxs: return 2 + qk / 4
        case .iq2_xs: return 2 + qk / 4 + qk / 32
        case .iq3_xxs: return 2 + qk / 4 + qk / 8
        case .iq1_s: return 2 + qk / 8 + qk / 16
        case .iq4_nl: return 2 + 16
        case .iq3_s: return 2 + qk / 4 + qk / 8 + qk / 32 + 4
        case .iq2_s: return 2 + qk / 4 + qk / 16
        case .iq4_xs: return 2 + 2 + qk / 2 + qk / 64
        case .iq1_m: return qk / 8 + qk / 16 + qk / 32
        case .tq1_0: return 2 + 4 * 13
        case .tq2_0: return 2 + 64
        case .mxfp4: return 1 + 16
        case .nvfp4: return 4 + 32
        case .q1_0: return 2 + 16
        }
    }

    /// Whether `GGUFFile` converts this type to Float32.
    public var isDequantizable: Bool { GGUFTensorType.dequantizable.contains(self) }

    /// Whether `GGUFWriter` can write Float32 tensors in this type.
    public var isWritable: Bool { GGUFTensorType.writable.contains(self) }

    /// The types converted to Float32, in code order.
    public static let dequantizable: [GGUFTensorType] = [
        .f32, .f16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K, .bf16,
    ]

    /// The types `GGUFWriter` quantizes Float32 tensors to.
    public static let writable: [GGUFTensorType] = [.f32, .f16, .q8_0, .bf16]
}

/// One tensor's entry in a GGUF file: its name, dimensions, type and where its bytes are.
public struct GGUFTensorInfo: Equatable, Sendable {
    /// The tensor name as stored (`blk.0.attn_q.weight`).
    public let name: String
    /// The dimensions as stored: `ne0` (the fastest-varying, contiguous one) first.
    public let dimensions: [Int]
    /// The element type.
    public let type: GGUFTensorType
    /// Byte offset of the tensor's data from the start of the data section (a multiple of the alignment).
    public let offset: Int
    /// Absolute byte offset of the tensor's data in the file.
    public let fileOffset: Int
    /// Number of elements: the product of `dimensions` (1 for zero dimensions).
    public let elementCount: Int
    /// Number of bytes of data: `elementCount / type.blockSize * type.typeSize`.
    public let byteCount: Int
    /// Absolute byte offset of this tensor's info record in the header (for error messages).
    public let infoOffset: Int

    /// The shape in row-major order as PyTorch and Hugging Face see it: `dimensions` reversed,
    /// so a GGUF `[ne0, ne1]` matrix is `[ne1, ne0]` (ne1 rows of ne0 contiguous elements).
    public var shape: [Int] { dimensions.reversed() }
}
