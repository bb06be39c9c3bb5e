using System.Diagnostics;
using Microsoft.ML.BGpt.MLNet;
using Microsoft.ML.BGpt.Onnx;
using Microsoft.ML.Data;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>Rows for the ONNX Runtime path, through ML.NET's Transform and PredictionEngine as users call it.</summary>
internal static class OnnxBench
{
    public sealed class PathRow { public string Path { get; set; } = ""; }
    public sealed class FeaturesRow { public float[] Features { get; set; } = []; }
    public sealed class ScoreRow { public float[] Score { get; set; } = []; }
    public sealed class BitsRow { public float[] BitsPerByte { get; set; } = []; }

    /// <summary>Raw graph outputs, for the int8 model applied with ApplyOnnxModel.</summary>
    public sealed class GraphRow
    {
        [ColumnName(BGptOnnxExporter.FeaturesOutput)] public float[] Features { get; set; } = [];
        [ColumnName(BGptOnnxExporter.ProbabilitiesOutput)] public float[] Probabilities { get; set; } = [];
    }

    public sealed class GraphBitsRow { [ColumnName(BGptOnnxExporter.BitsPerByteOutput)] public float[] BitsPerByte { get; set; } = []; }

    private const string Engine = "ORT";

    public static void Run(BenchOptions o, Report report, BenchModel m, SampleData data, Outputs outputs)
    {
        using var pair = Measure.Pair(References.Ort);
        var ml = new MLContext(seed: 0);
        var c = m.Config;
        var fitData = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = data.Input1K } });
        var cases = new[] { ("1 KB", data.Input1K, 1024L), ("8 KB", data.Input8K, 8192L) };
        string k = m.Name;

        // ---- fp32: FeaturizeBGpt (features) and ClassifierPipeline (classify) ----
        var sw = Stopwatch.StartNew();
        var featurizer = ml.Transforms.LoadFileBytes("Bytes", "Path")
            .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = m.ClsPath }))
            .Fit(fitData);
        var featureEngine = ml.Model.CreatePredictionEngine<PathRow, FeaturesRow>(featurizer);
        double setup = sw.Elapsed.TotalSeconds;
        foreach (var (name, path, bytes) in cases)
        {
            var input = new PathRow { Path = path };
            FeaturesRow? last = null;
            var t = Measure.Time(o, () => last = featureEngine.Predict(input));
            outputs[$"{k}.ort.fp32.features.{name}"] = last!.Features.ToArray();
            report.Add(new Row("forward", k, Engine, "FeaturizeBGpt · PredictionEngine", "fp32", $"features {name}", t,
                Flops.PatchDecoderForward(c, 1, Flops.Patches(c, bytes)), Rate(1, bytes, t.Median),
                name == "1 KB" ? $"fit (load + export + session) {setup:0.0} s" : ""));
        }

        var clsCheckpoint = m.LoadClassifier();
        var clsOnnx = BGptOnnxExporter.Export(clsCheckpoint.Weights, clsCheckpoint.Config,
            new BGptOnnxOptions { Head = OnnxHead.Classifier, Labels = BenchModel.Labels });
        clsCheckpoint = null;
        var classifier = ClassifierPipeline.Multiclass(ml.Transforms, clsOnnx, BenchModel.Labels, "Bytes", "Extension");
        var clsModel = ml.Transforms.LoadFileBytes("Bytes", "Path").Append(classifier).Fit(fitData);
        var clsEngine = ml.Model.CreatePredictionEngine<PathRow, ScoreRow>(clsModel);
        foreach (var (name, path, bytes) in cases)
        {
            var input = new PathRow { Path = path };
            ScoreRow? last = null;
            var t = Measure.Time(o, () => last = clsEngine.Predict(input));
            outputs[$"{k}.ort.fp32.probabilities.{name}"] = last!.Score.ToArray();
            report.Add(new Row("forward", k, Engine, "ClassifierPipeline · PredictionEngine", "fp32", $"classify {name}", t,
                Flops.ClassifierForward(c, 1, Flops.Patches(c, bytes), BenchModel.Labels.Count), Rate(1, bytes, t.Median)));
        }

        // ---- int8 (dynamic): the classifier graph through OnnxQuantizer, applied with ApplyOnnxModel ----
        sw.Restart();
        var int8Onnx = OnnxQuantizer.QuantizeDynamic(clsOnnx, null, out var quantization);
        double quantizeSeconds = sw.Elapsed.TotalSeconds;
        clsOnnx = null;
        var int8Model = ml.Transforms.LoadFileBytes(BGptOnnxExporter.BytesInput, "Path", BGptOnnxExporter.ExtensionInput)
            .Append(Apply(ml, [BGptOnnxExporter.FeaturesOutput, BGptOnnxExporter.ProbabilitiesOutput], int8Onnx))
            .Fit(fitData);
        var int8Engine = ml.Model.CreatePredictionEngine<PathRow, GraphRow>(int8Model);
        foreach (var (name, path, bytes) in cases)
        {
            var input = new PathRow { Path = path };
            GraphRow? last = null;
            var t = Measure.Time(o, () => last = int8Engine.Predict(input));
            var f32 = outputs[$"{k}.ort.fp32.features.{name}"];
            var p32 = outputs[$"{k}.ort.fp32.probabilities.{name}"];
            outputs[$"{k}.ort.int8.features.{name}"] = last!.Features.ToArray();
            report.Add(new Row("forward", k, Engine, "ApplyOnnxModel · PredictionEngine", "int8 dyn.", $"classify {name}", t,
                Flops.ClassifierForward(c, 1, Flops.Patches(c, bytes), BenchModel.Labels.Count), Rate(1, bytes, t.Median),
                $"vs fp32: features {Diff.Describe(last.Features, f32)}; probabilities max |Δ| {Diff.MaxAbs(last.Probabilities, p32):0.0e+0}" +
                (name == "1 KB" ? $"; {quantization.QuantizedMatMuls} MatMuls quantized in {quantizeSeconds:0.0} s, weights {quantization.FloatWeightBytes / 1e6:0} → {quantization.QuantizedWeightBytes / 1e6:0} MB" : "")));
        }

        // The 2.5× target's ratio: fp32 and int8 classification of the 8 KB input in alternation, the same minutes for both.
        var input8K = new PathRow { Path = data.Input8K };
        report.Values[Targets.SpeedUpKey(k, Engine, "int8 dyn.")] = Measure.Interleaved(() => clsEngine.Predict(input8K), () => int8Engine.Predict(input8K), o.Quick ? 5 : 9);

        // ---- throughput over the mixed real files: Transform + cursor ----
        var files = o.Quick ? data.Subset(6) : data.Files;
        var view = ml.Data.LoadFromEnumerable(files.Select(f => new PathRow { Path = f }).ToList());
        long encoded = files.Sum(f => Flops.EncodedBytes(c, new FileInfo(f).Length));
        double flop = files.Sum(f => Flops.PatchDecoderForward(c, 1, Flops.Patches(c, new FileInfo(f).Length)));
        foreach (var (precision, model, column) in new (string, ITransformer, string)[] { ("fp32", featurizer, "Features"), ("int8 dyn.", int8Model, BGptOnnxExporter.FeaturesOutput) })
        {
            var t = Measure.Time(() => Drain(model.Transform(view), column), warmup: 0, maxRuns: o.Quick ? 1 : 3, budgetSeconds: 0, minRuns: o.Quick ? 1 : 3);
            report.Add(new Row("throughput", k, Engine, "Transform + cursor", precision, $"{files.Count} mixed files", t, flop,
                $"{files.Count / t.Median:0.0} files/s, {encoded / 1024.0 / t.Median:0} KB/s",
                $"{encoded / 1024.0:0} KB encoded of {files.Sum(f => new FileInfo(f).Length) / 1024.0:0} KB (≤ 8 KB per file)"));
        }

        // ---- LM loss / bits per byte of an 8 KB file ----
        if (o.Runs_("lm"))
        {
            var bpbModel = ml.Transforms.LoadFileBytes("Bytes", "Path")
                .Append(ml.Transforms.ScoreBitsPerByte(new BGptBitsPerByteOptions { CheckpointPath = m.LmPath }))
                .Fit(fitData);
            var bpbEngine = ml.Model.CreatePredictionEngine<PathRow, BitsRow>(bpbModel);
            var input = new PathRow { Path = data.Input8K };
            BitsRow? last = null;
            var t = Measure.Time(o, () => last = bpbEngine.Predict(input));
            double lmFlop = Flops.LmLoss(c, Flops.Patches(c, 8192));
            outputs[$"{k}.ort.fp32.bpb"] = last!.BitsPerByte.ToArray();
            report.Add(new Row("lm", k, Engine, "ScoreBitsPerByte · PredictionEngine", "fp32", "bits/byte 8 KB", t, lmFlop, Rate(1, 8192, t.Median),
                $"bpb {last.BitsPerByte[0]:0.0000}"));
            (bpbModel as IDisposable)?.Dispose();

            var lmCheckpoint = m.LoadLm();
            var lmOnnx = BGptOnnxExporter.Export(lmCheckpoint.Weights, lmCheckpoint.Config, new BGptOnnxOptions { Head = OnnxHead.BitsPerByte });
            lmCheckpoint = null;
            var int8Lm = OnnxQuantizer.QuantizeDynamic(lmOnnx);
            lmOnnx = null;
            var int8BpbModel = ml.Transforms.LoadFileBytes(BGptOnnxExporter.BytesInput, "Path", BGptOnnxExporter.ExtensionInput)
                .Append(Apply(ml, [BGptOnnxExporter.BitsPerByteOutput], int8Lm))
                .Fit(fitData);
            var int8BpbEngine = ml.Model.CreatePredictionEngine<PathRow, GraphBitsRow>(int8BpbModel);
            GraphBitsRow? q = null;
            var tq = Measure.Time(o, () => q = int8BpbEngine.Predict(input));
            outputs[$"{k}.ort.int8.bpb"] = q!.BitsPerByte.ToArray();
            report.Add(new Row("lm", k, Engine, "ApplyOnnxModel · PredictionEngine", "int8 dyn.", "bits/byte 8 KB", tq, lmFlop, Rate(1, 8192, tq.Median),
                $"bpb {q.BitsPerByte[0]:0.0000} (fp32 {last.BitsPerByte[0]:0.0000})"));
            (int8BpbModel as IDisposable)?.Dispose();
        }

        featureEngine.Dispose();
        clsEngine.Dispose();
        int8Engine.Dispose();
        foreach (var t in new ITransformer[] { featurizer, clsModel, int8Model }) (t as IDisposable)?.Dispose();
    }

    /// <summary>Reads every value of <paramref name="column"/> (a float vector) through a cursor.</summary>
    public static int Drain(IDataView scored, string column)
    {
        var col = scored.Schema[column];
        using var cursor = scored.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> buffer = default;
        int rows = 0;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            rows++;
        }
        return rows;
    }

    public static string Rate(int files, long bytes, double seconds) =>
        $"{files / seconds:0.0} files/s, {bytes / 1024.0 / seconds:0} KB/s";

    /// <summary>
    /// ApplyOnnxModel of a graph from a file, with the session options of the library's own pipelines (intra-op
    /// threads = every core; the stream overload would leave ONNX Runtime's default, 1 thread on this VM).
    /// </summary>
    internal static IEstimator<ITransformer> Apply(MLContext ml, string[] outputs, byte[] onnx) =>
        Apply(ml, outputs, Microsoft.ML.BGpt.MLNet.OnnxModelCache.Store(onnx));

    internal static IEstimator<ITransformer> Apply(MLContext ml, string[] outputs, string file) =>
        ml.Transforms.ApplyOnnxModel(new Microsoft.ML.Transforms.Onnx.OnnxOptions
        {
            ModelFile = file, OutputColumns = outputs, InputColumns = [BGptOnnxExporter.BytesInput, BGptOnnxExporter.ExtensionInput],
            IntraOpNumThreads = Microsoft.ML.BGpt.MLNet.OnnxPipeline.IntraOpThreads(null), InterOpNumThreads = 1,
        });
}

/// <summary>Named output vectors of this run, for accuracy comparisons across engines and precisions.</summary>
internal sealed class Outputs : Dictionary<string, float[]>
{
    public Outputs() : base(StringComparer.Ordinal) { }
}

internal static class Diff
{
    public static double MaxAbs(IReadOnlyList<float> a, IReadOnlyList<float> b)
    {
        if (a.Count != b.Count) return double.NaN;
        double m = 0;
        for (int i = 0; i < a.Count; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    public static double MaxAbs(IReadOnlyList<float> a) => a.Count == 0 ? 0 : a.Max(v => Math.Abs((double)v));

    public static double Cosine(IReadOnlyList<float> a, IReadOnlyList<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < Math.Min(a.Count, b.Count); i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return na > 0 && nb > 0 ? dot / Math.Sqrt(na * nb) : double.NaN;
    }

    /// <summary>"max |Δ| 1.2e-2 (0.8% of max |x|), cos 0.99995".</summary>
    public static string Describe(IReadOnlyList<float> actual, IReadOnlyList<float> reference) =>
        $"max |Δ| {MaxAbs(actual, reference):0.0e+0} ({MaxAbs(actual, reference) / Math.Max(MaxAbs(reference), 1e-30) * 100:0.0#}% of max |x|), cos {Cosine(actual, reference):0.00000}";
}
