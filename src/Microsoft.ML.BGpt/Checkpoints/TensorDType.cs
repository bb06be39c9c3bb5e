namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>Element type of a <see cref="TensorData"/> (the subset of torch dtypes that checkpoints use).</summary>
public enum TensorDType
{
    /// <summary>IEEE single precision (torch.float32).</summary>
    Float32,
    /// <summary>IEEE double precision (torch.float64).</summary>
    Float64,
    /// <summary>IEEE half precision (torch.float16).</summary>
    Float16,
    /// <summary>Brain float (torch.bfloat16): the upper 16 bits of a float32.</summary>
    BFloat16,
    /// <summary>Signed 64-bit integer (torch.int64).</summary>
    Int64,
    /// <summary>Signed 32-bit integer (torch.int32).</summary>
    Int32,
    /// <summary>Signed 16-bit integer (torch.int16).</summary>
    Int16,
    /// <summary>Signed 8-bit integer (torch.int8).</summary>
    Int8,
    /// <summary>Unsigned 8-bit integer (torch.uint8), e.g. GPT-2's causal mask buffers.</summary>
    UInt8,
    /// <summary>Boolean, one byte per element (torch.bool).</summary>
    Bool,
}

/// <summary>Sizes and the names that PyTorch and safetensors give to each <see cref="TensorDType"/>.</summary>
public static class TensorDTypeExtensions
{
    // One table keeps the three spellings of a dtype in step.
    private static readonly (TensorDType Type, int Size, string Storage, string Safetensors)[] Table =
    {
        (TensorDType.Float32, 4, "FloatStorage", "F32"),
        (TensorDType.Float64, 8, "DoubleStorage", "F64"),
        (TensorDType.Float16, 2, "HalfStorage", "F16"),
        (TensorDType.BFloat16, 2, "BFloat16Storage", "BF16"),
        (TensorDType.Int64, 8, "LongStorage", "I64"),
        (TensorDType.Int32, 4, "IntStorage", "I32"),
        (TensorDType.Int16, 2, "ShortStorage", "I16"),
        (TensorDType.Int8, 1, "CharStorage", "I8"),
        (TensorDType.UInt8, 1, "ByteStorage", "U8"),
        (TensorDType.Bool, 1, "BoolStorage", "BOOL"),
    };

    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this TensorDType dtype) => Find(dtype).Size;

    /// <summary>The torch storage class name without module, e.g. "FloatStorage".</summary>
    public static string TorchStorageName(this TensorDType dtype) => Find(dtype).Storage;

    /// <summary>The safetensors dtype string, e.g. "F32".</summary>
    public static string SafetensorsName(this TensorDType dtype) => Find(dtype).Safetensors;

    /// <summary>The dtype of a torch storage class name ("FloatStorage"), or null if unsupported.</summary>
    public static TensorDType? FromTorchStorageName(string name)
    {
        foreach (var e in Table) if (e.Storage == name) return e.Type;
        return null;
    }

    /// <summary>The dtype of a safetensors dtype string ("F32"), or null if unsupported.</summary>
    public static TensorDType? FromSafetensorsName(string name)
    {
        foreach (var e in Table) if (e.Safetensors == name) return e.Type;
        return null;
    }

    private static (TensorDType Type, int Size, string Storage, string Safetensors) Find(TensorDType dtype)
    {
        foreach (var e in Table) if (e.Type == dtype) return e;
        throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown tensor dtype.");
    }
}
