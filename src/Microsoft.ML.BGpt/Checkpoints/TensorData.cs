using System.Buffers.Binary;

namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// A tensor's payload without a name: shape, dtype and contiguous little-endian (C order) bytes.
/// Independent of libtorch, so predict-only apps can read checkpoints.
/// </summary>
public sealed class TensorData
{
    /// <summary>Creates a tensor over <paramref name="data"/> (not copied); its length must match shape and dtype.</summary>
    public TensorData(TensorDType dtype, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Any(d => d < 0)) throw new ArgumentException($"Negative dimension in shape [{string.Join(", ", shape)}].", nameof(shape));
        long expected = CountElements(shape) * dtype.ElementSize();
        if (data.LongLength != expected)
            throw new ArgumentException($"{dtype} tensor of shape [{string.Join(", ", shape)}] needs {expected} bytes, got {data.LongLength}.", nameof(data));
        DType = dtype;
        Shape = (long[])shape.Clone();
        Data = data;
    }

    /// <summary>Dimensions, outermost first; empty for a scalar.</summary>
    public long[] Shape { get; }

    /// <summary>Element type.</summary>
    public TensorDType DType { get; }

    /// <summary>Contiguous little-endian bytes in C order.</summary>
    public byte[] Data { get; }

    /// <summary>The bytes as memory.</summary>
    public ReadOnlyMemory<byte> Memory => Data;

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount => CountElements(Shape);

    /// <summary>The shape as "[a, b]" for messages.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>A float32 tensor holding a copy of <paramref name="data"/>.</summary>
    public static TensorData FromFloats(float[] data, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (CountElements(shape) != data.LongLength)
            throw new ArgumentException($"{data.Length} floats do not fill shape {FormatShape(shape)}.", nameof(data));
        var bytes = new byte[data.LongLength * 4];
        for (long i = 0; i < data.LongLength; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(i * 4)), data[i]);
        return new TensorData(TensorDType.Float32, shape, bytes);
    }

    /// <summary>The elements as float32, converting from any dtype (float64 and integers are rounded to nearest).</summary>
    public float[] ToFloatArray()
    {
        var span = Data.AsSpan();
        var result = new float[ElementCount];
        int size = DType.ElementSize();
        for (int i = 0; i < result.Length; i++)
        {
            var e = span.Slice(i * size, size);
            result[i] = DType switch
            {
                TensorDType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(e),
                TensorDType.Float64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(e),
                TensorDType.Float16 => (float)BinaryPrimitives.ReadHalfLittleEndian(e),
                // bfloat16 is the top half of a float32: shift it back into place.
                TensorDType.BFloat16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(e) << 16),
                TensorDType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(e),
                TensorDType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(e),
                TensorDType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(e),
                TensorDType.Int8 => (sbyte)e[0],
                _ => e[0], // UInt8, Bool
            };
        }
        return result;
    }

    /// <summary>True when dtype, shape and bytes are identical.</summary>
    public bool ContentEquals(TensorData? other) =>
        other is not null && other.DType == DType && other.Shape.SequenceEqual(Shape) && other.Data.AsSpan().SequenceEqual(Data);

    /// <inheritdoc/>
    public override string ToString() => $"{DType} {ShapeText}";

    internal static long CountElements(long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return n;
    }

    internal static string FormatShape(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
