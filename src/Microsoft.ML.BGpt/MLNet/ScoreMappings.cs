using System.ComponentModel;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.BGpt.MLNet;

// ONNX Runtime outputs reach ML.NET as vectors (OnnxTransformer 5.0.1 cannot read rank-0 outputs), while ML.NET's
// evaluators want scalar predicted labels. These contract-registered mappings bridge the two and save into model
// zips; the columns they touch are temporaries renamed around them.

/// <summary>Infrastructure: class probabilities in.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class ProbabilitiesRow
{
    /// <summary>Class probabilities.</summary>
    [ColumnName(ArgMaxFactory.InputColumn)]
    public float[] Probabilities { get; set; } = Array.Empty<float>();
}

/// <summary>Infrastructure: the index of the most likely class, as a float for ValueMapping.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class ClassIndexRow
{
    /// <summary>Index of the largest probability (the first one on ties).</summary>
    [ColumnName(ArgMaxFactory.OutputColumn)]
    public float Index { get; set; }
}

/// <summary>Infrastructure: arg-max of a probability vector.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(ContractName)]
public sealed class ArgMaxFactory : CustomMappingFactory<ProbabilitiesRow, ClassIndexRow>
{
    /// <summary>Contract name stored in model zips.</summary>
    public const string ContractName = "Microsoft.ML.BGpt.ArgMax.v1";
    internal const string InputColumn = "__bgpt_probabilities";
    internal const string OutputColumn = "__bgpt_class_index";

    /// <inheritdoc/>
    public override Action<ProbabilitiesRow, ClassIndexRow> GetMapping() => Map;

    internal static void Map(ProbabilitiesRow input, ClassIndexRow output)
    {
        var p = input.Probabilities;
        int best = 0;
        for (int i = 1; i < p.Length; i++) if (p[i] > p[best]) best = i;
        output.Index = best;
    }
}

/// <summary>Infrastructure: the two logits of a binary bGPT classifier.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class BinaryLogitsRow
{
    /// <summary>Logits of the false and true classes.</summary>
    [ColumnName(BinaryScoresFactory.InputColumn)]
    public float[] Logits { get; set; } = Array.Empty<float>();
}

/// <summary>Infrastructure: ML.NET's binary classification outputs.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class BinaryScoresRow
{
    /// <summary>Raw score: logit(true) - logit(false).</summary>
    [ColumnName(BinaryScoresFactory.ScoreColumn)]
    public float Score { get; set; }

    /// <summary>Probability of the true class: the softmax of the two logits, i.e. sigmoid(Score).</summary>
    [ColumnName(BinaryScoresFactory.ProbabilityColumn)]
    public float Probability { get; set; }

    /// <summary>Score greater than zero.</summary>
    [ColumnName(BinaryScoresFactory.PredictedLabelColumn)]
    public bool PredictedLabel { get; set; }
}

/// <summary>Infrastructure: binary scores from two logits.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(ContractName)]
public sealed class BinaryScoresFactory : CustomMappingFactory<BinaryLogitsRow, BinaryScoresRow>
{
    /// <summary>Contract name stored in model zips.</summary>
    public const string ContractName = "Microsoft.ML.BGpt.BinaryScores.v1";
    internal const string InputColumn = "__bgpt_logits";
    internal const string ScoreColumn = "__bgpt_score";
    internal const string ProbabilityColumn = "__bgpt_probability";
    internal const string PredictedLabelColumn = "__bgpt_predicted";

    /// <inheritdoc/>
    public override Action<BinaryLogitsRow, BinaryScoresRow> GetMapping() => Map;

    internal static void Map(BinaryLogitsRow input, BinaryScoresRow output)
    {
        float score = input.Logits[1] - input.Logits[0];
        output.Score = score;
        output.Probability = 1f / (1f + MathF.Exp(-score));
        output.PredictedLabel = score > 0;
    }
}
