using Microsoft.ML.BGpt.Onnx;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>
/// The serving side of a fine-tuned bGPT classifier: its ONNX graph plus ML.NET's standard output columns, all as
/// savable ML.NET transformers.
/// </summary>
public static class ClassifierPipeline
{
    /// <summary>
    /// Multiclass: <c>Score</c> (class probabilities, Vector&lt;float&gt; of the label count) and <c>PredictedLabel</c>
    /// (a key whose values are <paramref name="labels"/>, in key order, so MapKeyToValue and Evaluate work).
    /// </summary>
    public static IEstimator<ITransformer> Multiclass(TransformsCatalog catalog, byte[] onnx, IReadOnlyList<string> labels,
        string bytesColumn, string extensionColumn, string scoreColumn = "Score", string predictedLabelColumn = "PredictedLabel", int? threads = null)
    {
        var pairs = labels.Select((label, i) => new KeyValuePair<float, string>(i, label)).ToArray();
        return OnnxPipeline.Build(catalog, onnx, bytesColumn, extensionColumn, new[] { (BGptOnnxExporter.ProbabilitiesOutput, scoreColumn) }, threads)
            .Append(catalog.CopyColumns(ArgMaxFactory.InputColumn, scoreColumn))
            .Append(catalog.CustomMapping<ProbabilitiesRow, ClassIndexRow>(ArgMaxFactory.Map, ArgMaxFactory.ContractName))
            .Append(catalog.Conversion.MapValue(predictedLabelColumn, pairs, ArgMaxFactory.OutputColumn, treatValuesAsKeyType: true))
            .Append(catalog.DropColumns(ArgMaxFactory.InputColumn, ArgMaxFactory.OutputColumn));
    }

    /// <summary>Binary: <c>Score</c> (logit difference), <c>Probability</c> and <c>PredictedLabel</c> (Boolean), as ML.NET's binary trainers.</summary>
    public static IEstimator<ITransformer> Binary(TransformsCatalog catalog, byte[] onnx, string bytesColumn, string extensionColumn,
        string scoreColumn = "Score", string probabilityColumn = "Probability", string predictedLabelColumn = "PredictedLabel", int? threads = null)
    {
        return OnnxPipeline.Build(catalog, onnx, bytesColumn, extensionColumn, new[] { (BGptOnnxExporter.LogitsOutput, BinaryScoresFactory.InputColumn) }, threads)
            .Append(catalog.CustomMapping<BinaryLogitsRow, BinaryScoresRow>(BinaryScoresFactory.Map, BinaryScoresFactory.ContractName))
            .Append(catalog.CopyColumns(scoreColumn, BinaryScoresFactory.ScoreColumn))
            .Append(catalog.CopyColumns(probabilityColumn, BinaryScoresFactory.ProbabilityColumn))
            .Append(catalog.CopyColumns(predictedLabelColumn, BinaryScoresFactory.PredictedLabelColumn))
            .Append(catalog.DropColumns(BinaryScoresFactory.InputColumn, BinaryScoresFactory.ScoreColumn, BinaryScoresFactory.ProbabilityColumn, BinaryScoresFactory.PredictedLabelColumn));
    }
}
