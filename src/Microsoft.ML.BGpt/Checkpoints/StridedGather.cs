namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// Copies a (possibly non-contiguous) torch view out of its storage: torch tensors are
/// (storage, offset, shape, strides), and several tensors may share one storage.
/// </summary>
internal static class StridedGather
{
    /// <summary>Returns the view's elements as contiguous bytes; throws <see cref="InvalidDataException"/> when it reaches outside the storage.</summary>
    public static byte[] Gather(ReadOnlySpan<byte> storage, int elementSize, long offset, long[] shape, long[] strides)
    {
        if (shape.Length != strides.Length)
            throw new InvalidDataException($"shape {TensorData.FormatShape(shape)} and strides {TensorData.FormatShape(strides)} differ in rank");
        long count = TensorData.CountElements(shape);
        long storageElements = storage.Length / elementSize;
        if (count == 0) return Array.Empty<byte>();
        // The furthest element the view touches must lie inside the storage.
        long last = offset;
        for (int d = 0; d < shape.Length; d++)
        {
            if (strides[d] < 0) throw new InvalidDataException("negative strides are not supported");
            last += (shape[d] - 1) * strides[d];
        }
        if (offset < 0 || last >= storageElements)
            throw new InvalidDataException($"view (offset {offset}, shape {TensorData.FormatShape(shape)}, strides {TensorData.FormatShape(strides)}) reaches element {last} but the storage has {storageElements}");

        var result = new byte[checked(count * elementSize)];
        if (IsContiguous(shape, strides))
        {
            storage.Slice(checked((int)(offset * elementSize)), result.Length).CopyTo(result);
            return result;
        }
        var index = new long[shape.Length];
        for (long i = 0; i < count; i++)
        {
            long src = offset;
            for (int d = 0; d < shape.Length; d++) src += index[d] * strides[d];
            storage.Slice((int)(src * elementSize), elementSize).CopyTo(result.AsSpan((int)(i * elementSize)));
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        return result;
    }

    /// <summary>True when the view is exactly its storage: offset 0, contiguous, every byte of it.</summary>
    public static bool IsWholeStorage(long storageBytes, int elementSize, long offset, long[] shape, long[] strides) =>
        offset == 0 && shape.Length == strides.Length && IsContiguous(shape, strides)
        && TensorData.CountElements(shape) * elementSize == storageBytes && storageBytes > 0;

    /// <summary>C-order strides of <paramref name="shape"/>.</summary>
    public static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { strides[d] = s; s *= Math.Max(1, shape[d]); }
        return strides;
    }

    private static bool IsContiguous(long[] shape, long[] strides)
    {
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            // Dimensions of size 1 can have any stride.
            if (shape[d] != 1 && strides[d] != s) return false;
            s *= shape[d];
        }
        return true;
    }
}
