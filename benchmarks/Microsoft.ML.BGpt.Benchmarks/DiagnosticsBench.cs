using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>
/// Why the TorchSharp forward is as fast as it is: thread count, autograd mode, and the rate of the model's own
/// GEMM shapes (one patch layer's four linear maps at N = 512 tokens), for both engines.
/// </summary>
internal static class DiagnosticsBench
{
    public static void Run(BenchOptions o, Report report, BenchModel m, SampleData data)
    {
        var pair = Measure.Pair(References.Torch);
        var c = m.Config;
        int threads = get_num_threads();
        report.Findings.Add($"TorchSharp: torch.get_num_threads() = {threads} by default (get_num_interop_threads() = {get_num_interop_threads()}), Environment.ProcessorCount = {Environment.ProcessorCount}.");
        double flop = Flops.ClassifierForward(c, 1, Flops.Patches(c, 8192), BenchModel.Labels.Count);
        var checkpoint = m.LoadClassifier();
        using var model = BGptModels.Classifier(checkpoint);
        checkpoint = null;
        Stats Forward() => Measure.Time(() =>
        {
            using var scope = NewDisposeScope();
            _ = TorchBench.Floats(model.forward(TorchBench.Tokens(data.Input8K, c)));
        }, 1, o.Quick ? 2 : 5, o.RowBudgetSeconds, 2);

        var grad = Forward();
        report.Add(new Row("diagnostics", m.Name, "TorchSharp", "forward, autograd on (no no_grad)", "fp32", "classify 8 KB", grad, flop, Notes: $"{threads} threads"));
        Stats noGrad;
        using (no_grad()) noGrad = Forward();
        report.Add(new Row("diagnostics", m.Name, "TorchSharp", "forward under no_grad()", "fp32", "classify 8 KB", noGrad, flop, Notes: $"{threads} threads"));
        Stats inference;
        using (inference_mode()) inference = Forward();
        report.Add(new Row("diagnostics", m.Name, "TorchSharp", "forward under inference_mode()", "fp32", "classify 8 KB", inference, flop, Notes: $"{threads} threads"));
        // One patch layer's linear maps at 512 tokens: the GEMM shapes the 8 KB forward is made of.
        long n = Flops.Patches(c, 8192), h = c.HiddenSize, i = c.InnerSize;
        var shapes = new (long K, long N)[] { (h, 3 * h), (h, h), (h, i), (i, h) };
        double layerFlop = shapes.Sum(s => 2.0 * n * s.K * s.N);
        using (no_grad())
        {
            var xs = shapes.Select(s => randn(n, s.K)).ToArray();
            var ws = shapes.Select(s => randn(s.K, s.N)).ToArray();
            var bs = shapes.Select(s => randn(s.N)).ToArray();
            var t = Measure.Time(o, () =>
            {
                for (int j = 0; j < shapes.Length; j++) { using var y = addmm(bs[j], xs[j], ws[j], 1, 1); }
            }, maxRuns: o.Quick ? 5 : 10, budget: o.Quick ? 1 : 3);
            report.Add(new Row("diagnostics", m.Name, "TorchSharp", "addmm at the model's shapes", "fp32", $"1 layer's 4 GEMMs, M={n}", t, layerFlop,
                Notes: $"K×N = {string.Join(", ", shapes.Select(s => $"{s.K}×{s.N}"))}: the ceiling for the forward's GEMMs"));
            foreach (var a in xs.Concat(ws).Concat(bs)) a.Dispose();
        }

        pair.Dispose();
        // The same four GEMMs in ONNX Runtime (one graph per shape, as in the model: weights are initializers).
        double ortSeconds = 0, ortMin = 0, ortMax = 0;
        int runs = int.MaxValue;
        foreach (var (k, nn) in shapes)
        {
            var s = MatmulBench.TimeOrt(o, MatmulBench.MatmulModel((int)n, (int)k, (int)nn, seed: 3), (int)n, (int)k, out _, budget: o.Quick ? 0.5 : 1.5);
            ortSeconds += s.Median; ortMin += s.Min; ortMax += s.Max; runs = Math.Min(runs, s.Runs);
        }
        report.Add(new Row("diagnostics", m.Name, "ORT", "1-node MatMul graphs at the model's shapes", "fp32", $"1 layer's 4 GEMMs, M={n}",
            new Stats(ortSeconds, ortMin, ortMax, runs), layerFlop, Notes: "sum of the four medians"));
    }

    public sealed record TimedCase(string Case, double Median, double Min, double Max, int Runs, double? Reference, double Flop);

    /// <summary>
    /// TorchSharp forward in fresh child processes under different threading settings (OpenMP reads its wait policy
    /// once, when libtorch loads, so each setting needs its own process).
    /// </summary>
    public static void TorchThreading(BenchOptions o, Report report, BenchModel m)
    {
        var variants = new (string Name, Dictionary<string, string> Env, string[] Args)[]
        {
            ("libtorch default (OMP_WAIT_POLICY unset, threads = cores)", new() { ["OMP_WAIT_POLICY"] = "default" }, []),
            ("OMP_WAIT_POLICY=PASSIVE", new() { ["OMP_WAIT_POLICY"] = "passive" }, []),
            ("libtorch default + torch.set_num_threads(1)", new() { ["OMP_WAIT_POLICY"] = "default" }, ["--torch-threads", "1"]),
        };
        foreach (var (name, env, args) in variants)
        {
            var result = MemoryBench.ChildJson<TimedCase[]>(o, "torch-forward", m.Name, env, args);
            if (result is null) continue;
            foreach (var t in result)
                report.Add(new Row("diagnostics", m.Name, "TorchSharp", "child process: BGptClassifier.forward, inference_mode", t.Case.Split(' ')[0], t.Case[(t.Case.IndexOf(' ') + 1)..],
                    new Stats(t.Median, t.Min, t.Max, t.Runs) { ReferenceSeconds = t.Reference }, t.Flop, Notes: name));
        }
    }

    /// <summary>Child side of <see cref="TorchThreading"/>.</summary>
    public static TimedCase[] TorchForwardProbe(BenchOptions o, BenchModel m, SampleData data)
    {
        using var pair = Measure.Pair(References.Torch);
        var c = m.Config;
        var checkpoint = m.LoadClassifier();
        using var fp32 = BGptModels.Classifier(checkpoint);
        using var bf16 = BGptModels.Classifier(checkpoint);
        bf16.to(ScalarType.BFloat16);
        checkpoint = null;
        var results = new List<TimedCase>();
        using (inference_mode())
            foreach (var (precision, model, path, bytes) in new[] { ("fp32", fp32, data.Input1K, 1024), ("fp32", fp32, data.Input8K, 8192), ("bf16", bf16, data.Input1K, 1024), ("bf16", bf16, data.Input8K, 8192) }.Where(x => x.Item1 == "fp32" || Bf16.Runs))
            {
                var t = Measure.Time(o, () =>
                {
                    using var scope = NewDisposeScope();
                    _ = TorchBench.Floats(model.forward(TorchBench.Tokens(path, c)));
                });
                results.Add(new TimedCase($"{precision} classify {bytes / 1024} KB", t.Median, t.Min, t.Max, t.Runs, t.ReferenceSeconds,
                    Flops.ClassifierForward(c, 1, Flops.Patches(c, bytes), BenchModel.Labels.Count)));
            }
        return results.ToArray();
    }

    /// <summary>ORT with one intra-op thread against the default, through FeaturizeBGpt's Threads option.</summary>
    public static void OrtThreads(BenchOptions o, Report report, BenchModel m, SampleData data)
    {
        using var pair = Measure.Pair(References.Ort);
        var ml = new MLContext(seed: 0);
        var c = m.Config;
        var fitData = ml.Data.LoadFromEnumerable(new[] { new OnnxBench.PathRow { Path = data.Input1K } });
        var model = ml.Transforms.LoadFileBytes("Bytes", "Path")
            .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = m.ClsPath, Threads = 1 }))
            .Fit(fitData);
        using var engine = ml.Model.CreatePredictionEngine<OnnxBench.PathRow, OnnxBench.FeaturesRow>(model);
        var input = new OnnxBench.PathRow { Path = data.Input8K };
        var t = Measure.Time(() => engine.Predict(input), 1, o.Quick ? 2 : 5, o.RowBudgetSeconds, 2);
        var baseline = report.Find(r => r.Family == "forward" && r.Engine == "ORT" && r.Config == m.Name && r.Precision == "fp32" && r.Case == "features 8 KB");
        report.Add(new Row("diagnostics", m.Name, "ORT", "FeaturizeBGpt { Threads = 1 } · PredictionEngine", "fp32", "features 8 KB", t,
            Flops.PatchDecoderForward(c, 1, Flops.Patches(c, 8192)),
            Notes: baseline?.Time is { } b ? $"{t.Median / b.Median:0.00}× the time of the default threads" : ""));
        (model as IDisposable)?.Dispose();
    }
}
