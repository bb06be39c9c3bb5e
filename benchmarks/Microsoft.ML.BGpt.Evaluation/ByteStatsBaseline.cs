using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Microsoft.ML.BGpt.Evaluation;

/// <summary>
/// The baseline a user would try first: an ML.NET pipeline of simple byte statistics of each file (a byte histogram,
/// hashed byte bigrams and trigrams, the length) into LightGbm. Same files, same split, same LoadFileBytes reader.
/// </summary>
internal static class ByteStatsBaseline
{
    public const int Buckets = 2048;
    public const int FeatureCount = 256 + Buckets + 2;

    public sealed class BytesIn { public byte[] Bytes { get; set; } = Array.Empty<byte>(); }

    public sealed class StatsOut
    {
        [VectorType(FeatureCount)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    /// <summary>Histogram (256, frequencies), hashed 2- and 3-grams (<see cref="Buckets"/>, frequencies), log length, share of printable ASCII.</summary>
    public static void Featurize(BytesIn input, StatsOut output)
    {
        var f = new float[FeatureCount];
        var b = input.Bytes;
        float inv = b.Length == 0 ? 0 : 1f / b.Length;
        int printable = 0;
        for (int i = 0; i < b.Length; i++)
        {
            f[b[i]] += inv;
            if (b[i] is >= 32 and < 127 or 9 or 10 or 13) printable++;
            if (i >= 1) f[256 + (int)((uint)(b[i - 1] * 257 + b[i]) * 2654435761u % (Buckets / 2))] += inv;
            if (i >= 2) f[256 + Buckets / 2 + (int)((uint)((b[i - 2] * 257 + b[i - 1]) * 257 + b[i]) * 2654435761u % (Buckets / 2))] += inv;
        }
        f[256 + Buckets] = MathF.Log(1 + b.Length);
        f[256 + Buckets + 1] = printable * inv;
        output.Features = f;
    }

    /// <summary>Bytes (a LoadFileBytes output) to a fitted LightGbm model.</summary>
    public static IEstimator<ITransformer> Pipeline(MLContext ml) =>
        ml.Transforms.CustomMapping<BytesIn, StatsOut>(Featurize, contractName: null)
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
            {
                LabelColumnName = "Label", FeatureColumnName = "Features", NumberOfIterations = 200, NumberOfLeaves = 31,
                MinimumExampleCountPerLeaf = 5, LearningRate = 0.1, Seed = 0, NumberOfThreads = 2, Verbose = false,
            }));

    /// <summary>Pretrained bGPT features (mean patch features) into the same LightGbm settings.</summary>
    public static IEstimator<ITransformer> LightGbmOn(MLContext ml, string features) =>
        ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
        {
            LabelColumnName = "Label", FeatureColumnName = features, NumberOfIterations = 200, NumberOfLeaves = 31,
            MinimumExampleCountPerLeaf = 5, LearningRate = 0.1, Seed = 0, NumberOfThreads = 2, Verbose = false,
        });
}
