using Microsoft.ML.BGpt.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>
/// Rows for the TorchSharp path: classifier forward (features + head), throughput, LM loss and KV-cached generation,
/// in fp32 and bf16 (the model converted with <c>Module.to(bfloat16)</c>), all under <c>torch.inference_mode()</c>.
/// </summary>
internal static class TorchBench
{
    private const string Engine = "TorchSharp";

    public static Tensor Tokens(string path, BGptConfig c) => Tokens(ByteEncoder.EncodeFile(path, c), 1);

    public static Tensor Tokens(int[] tokens, int batch) => tensor(tokens.Select(t => (long)t).ToArray(), new long[] { batch, tokens.Length / batch });

    public static float[] Floats(Tensor t)
    {
        using var f = t.detach().to_type(ScalarType.Float32).cpu().contiguous();
        return f.data<float>().ToArray();
    }

    public static void Run(BenchOptions o, Report report, BenchModel m, SampleData data, Outputs outputs)
    {
        using var pair = Measure.Pair(References.Torch);
        var c = m.Config;
        string k = m.Name;
        var cases = new[] { ("1 KB", data.Input1K, 1024L), ("8 KB", data.Input8K, 8192L) };
        var checkpoint = m.LoadClassifier();
        using var fp32 = BGptModels.Classifier(checkpoint);
        using var bf16 = BGptModels.Classifier(checkpoint);
        bf16.to(ScalarType.BFloat16);
        checkpoint = null;

        using (inference_mode())
        {
            if (!Bf16.Runs) report.Add(new Row("forward", k, Engine, "BGptClassifier.forward", "bf16", "classify", null, 0, "", Bf16.Skipped));
            foreach (var (precision, model) in Bf16.With(("fp32", fp32), ("bf16", bf16)))
                foreach (var (name, path, bytes) in cases)
                {
                    float[] features = [], logits = [];
                    var t = Measure.Time(o, () =>
                    {
                        using var scope = NewDisposeScope();
                        var x = Tokens(path, c);
                        var y = model.forward(x);
                        logits = Floats(y);
                    });
                    using (var scope = NewDisposeScope()) features = Floats(model.Features(Tokens(path, c)));
                    outputs[$"{k}.torch.{precision}.features.{name}"] = features;
                    outputs[$"{k}.torch.{precision}.logits.{name}"] = logits;
                    string notes = precision == "fp32"
                        ? (outputs.TryGetValue($"{k}.ort.fp32.features.{name}", out var ort) ? $"features vs ORT fp32: max |Δ| {Diff.MaxAbs(features, ort):0.0e+0}" : "")
                        : $"vs fp32: features {Diff.Describe(features, outputs[$"{k}.torch.fp32.features.{name}"])}; logits max |Δ| {Diff.MaxAbs(logits, outputs[$"{k}.torch.fp32.logits.{name}"]):0.0e+0}";
                    report.Add(new Row("forward", k, Engine, "BGptClassifier.forward", precision, $"classify {name}", t,
                        Flops.ClassifierForward(c, 1, Flops.Patches(c, bytes), BenchModel.Labels.Count), OnnxBench.Rate(1, bytes, t.Median), notes));
                }

            // The 2.5× target's ratio: fp32 and bf16 classification of the 8 KB input in alternation, the same minutes for both.
            void Classify8K(BGptClassifier model)
            {
                using var scope = NewDisposeScope();
                _ = Floats(model.forward(Tokens(data.Input8K, c)));
            }
            if (Bf16.Runs) report.Values[Targets.SpeedUpKey(k, Engine, "bf16")] = Measure.Interleaved(() => Classify8K(fp32), () => Classify8K(bf16), o.Quick ? 5 : 9);

            var files = o.Quick ? data.Subset(6) : data.Files;
            long encoded = files.Sum(f => Flops.EncodedBytes(c, new FileInfo(f).Length));
            double flop = files.Sum(f => Flops.ClassifierForward(c, 1, Flops.Patches(c, new FileInfo(f).Length), BenchModel.Labels.Count));
            foreach (var (precision, model) in o.Quick ? new[] { ("fp32", fp32) } : Bf16.With(("fp32", fp32), ("bf16", bf16)))
            {
                var t = Measure.Time(() =>
                {
                    foreach (var f in files)
                    {
                        using var scope = NewDisposeScope();
                        _ = Floats(model.forward(Tokens(f, c)));
                    }
                }, warmup: 0, maxRuns: o.Quick ? 1 : 3, budgetSeconds: 0, minRuns: o.Quick ? 1 : 3);
                report.Add(new Row("throughput", k, Engine, "BGptClassifier.forward, batch 1", precision, $"{files.Count} mixed files", t, flop,
                    $"{files.Count / t.Median:0.0} files/s, {encoded / 1024.0 / t.Median:0} KB/s"));
            }
        }
        fp32.Dispose();
        bf16.Dispose();

        if (o.Runs_("lm") || o.Runs_("generation")) RunLanguageModel(o, report, m, data, outputs);
    }

    private static void RunLanguageModel(BenchOptions o, Report report, BenchModel m, SampleData data, Outputs outputs)
    {
        using var pair = Measure.Pair(References.Torch);
        var c = m.Config;
        string k = m.Name;
        var checkpoint = m.LoadLm();
        using var fp32 = BGptModels.LanguageModel(checkpoint);
        using var bf16 = BGptModels.LanguageModel(checkpoint);
        bf16.to(ScalarType.BFloat16);
        checkpoint = null;

        using (inference_mode())
        {
            if (o.Runs_("lm"))
            {
                double flop = Flops.LmLoss(c, Flops.Patches(c, 8192));
                double? bpb32 = null;
                if (!Bf16.Runs) report.Add(new Row("lm", k, Engine, "BGptLMHeadModel.Loss", "bf16", "bits/byte 8 KB", null, 0, "", Bf16.Skipped));
                foreach (var (precision, model) in Bf16.With(("fp32", fp32), ("bf16", bf16)))
                {
                    double bpb = 0;
                    var t = Measure.Time(o, () =>
                    {
                        using var scope = NewDisposeScope();
                        bpb = model.Loss(Tokens(data.Input8K, c)).to_type(ScalarType.Float32).item<float>() / Math.Log(2);
                    });
                    bpb32 ??= bpb;
                    string notes = $"bpb {bpb:0.0000}" + (precision == "fp32"
                        ? (outputs.TryGetValue($"{k}.ort.fp32.bpb", out var ort) ? $" (ORT fp32 {ort[0]:0.0000})" : "")
                        : $" (fp32 {bpb32:0.0000})");
                    report.Add(new Row("lm", k, Engine, "BGptLMHeadModel.Loss", precision, "bits/byte 8 KB", t, flop, OnnxBench.Rate(1, 8192, t.Median), notes));
                }
            }
        }

        if (o.Runs_("generation"))
        {
            // Continue the 1 KB input (its extension patch and 64 content patches), sampling, for a fixed number of patches.
            var tokens = ByteEncoder.EncodeFile(data.Input1K, c);
            var prefix = tokens[..^c.PatchSize];                                   // drop the end patch
            int patches = o.Quick ? 4 : 16;
            if (!Bf16.Runs) report.Add(new Row("generation", k, Engine, "BGptGenerator.Generate (KV cache)", "bf16", "after 1 KB", null, 0, "", Bf16.Skipped));
            foreach (var (precision, model) in Bf16.With(("fp32", fp32), ("bf16", bf16)))
            {
                var generator = new BGptGenerator(model);
                int steps = 0;
                generator.OnStepProbabilities = _ => steps++;
                int lastSteps = 0;
                Stats t;
                try
                {
                    t = Measure.Time(() =>
                    {
                        steps = 0;
                        generator.Generate(prefix, new SamplingOptions(), new Random(7), maxPatches: patches);
                        lastSteps = steps;
                    }, o.Warmup, o.Quick ? 2 : 5, o.RowBudgetSeconds, o.MinRuns);
                }
                catch (ArgumentException e)
                {
                    report.Add(new Row("generation", k, Engine, "BGptGenerator.Generate (KV cache)", precision, "after 1 KB", null, 0, "fails",
                        $"not supported: {e.Message} (BGptGenerator reads the softmax with data<float>(); a bf16 model needs .to_type(Float32) first)"));
                    continue;
                }
                long context = prefix.Length / c.PatchSize;
                double flop = 0;
                for (int i = 0; i < (lastSteps + c.PatchSize - 1) / c.PatchSize; i++) flop += Flops.GenerationPatch(c, context + i);
                report.Add(new Row("generation", k, Engine, "BGptGenerator.Generate (KV cache)", precision, $"{lastSteps} bytes after 1 KB", t, flop,
                    $"{lastSteps / t.Median:0} bytes/s", "sampling; memory-bound (batch 1, one token per step)"));
            }
        }
    }
}
