using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// A padded batch in plain arrays: tokens right-padded with 256 to the longest row, and a [rows, patches] mask that
/// is 1 for real patches then 0 (the original's <c>masks</c>). Tensors are made on demand, inside the caller's scope.
/// </summary>
internal sealed class TrainingBatch
{
    public TrainingBatch(IReadOnlyList<int[]> rows, IReadOnlyList<int> labels, int patchSize)
    {
        Rows = rows.Count;
        PatchSize = patchSize;
        Patches = rows.Max(r => r.Length) / patchSize;
        Tokens = new long[Rows * Patches * patchSize];
        Mask = new long[Rows * Patches];
        Array.Fill(Tokens, BGptConfig.SpecialToken);
        RealPatches = new int[Rows];
        for (int r = 0; r < Rows; r++)
        {
            var row = rows[r];
            for (int i = 0; i < row.Length; i++) Tokens[(long)r * Patches * patchSize + i] = row[i];
            RealPatches[r] = row.Length / patchSize;
            for (int p = 0; p < RealPatches[r]; p++) Mask[r * Patches + p] = 1;
        }
        Labels = labels.Select(l => (long)l).ToArray();
    }

    public int Rows { get; }
    public int Patches { get; }
    public int PatchSize { get; }
    public long[] Tokens { get; }
    public long[] Mask { get; }
    public long[] Labels { get; }

    /// <summary>Real (unpadded) patches per row.</summary>
    public int[] RealPatches { get; }

    /// <summary>Tokens the model really reads (padding excluded): the throughput measure.</summary>
    public long RealTokens => RealPatches.Sum(p => (long)p) * PatchSize;

    /// <summary>[rows, patches * patchSize] int64.</summary>
    public Tensor TokenTensor() => tensor(Tokens, new long[] { Rows, (long)Patches * PatchSize });

    /// <summary>[rows, patches] int64.</summary>
    public Tensor MaskTensor() => tensor(Mask, new long[] { Rows, Patches });

    /// <summary>[rows] int64.</summary>
    public Tensor LabelTensor() => tensor(Labels, new long[] { Rows });
}
