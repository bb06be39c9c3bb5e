using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>
/// One classification fine-tuning step (train-cls.py: forward, cross-entropy, backward, AdamW) with the library's
/// <see cref="BGptAdamW"/> (what the trainers use), in fp32 and in bf16 mixed precision.
/// </summary>
/// <remarks>
/// "bf16 mixed" is the trainers' <see cref="TrainingPrecision.BFloat16Mixed"/> (TorchSharp 0.107 has no autocast):
/// a bf16 copy of the model runs forward and backward, its gradients are added into the fp32 master's for AdamW,
/// and the updated master weights are copied back. Unlike autocast, LayerNorm and softmax also run in bf16.
/// </remarks>
internal sealed class TrainingBench : IDisposable
{
    private const string Engine = "TorchSharp";
    private readonly BGptClassifier _master;
    private readonly BFloat16Copy? _work;
    private readonly BGptAdamW _optimizer;

    public TrainingBench(BenchModel m, bool bf16)
    {
        var checkpoint = m.LoadLm();
        manual_seed(BenchModel.Seed);
        _master = BGptModels.ClassifierFromPretrained(checkpoint, BenchModel.Labels.Count);
        _master.train();
        if (bf16)
        {
            _work = new BFloat16Copy(_master, new BGptClassifier(_master.Config, BenchModel.Labels.Count));
            _work.Model.train();
        }
        _optimizer = new BGptAdamW(_master.parameters(), learningRate: 1e-5, weightDecay: 0.01);
    }

    public static Tensor Batch(BenchModel m, SampleData data, int bytes, int batch, out Tensor labels)
    {
        var slices = data.Slices(bytes, batch);
        var tokens = slices.SelectMany(s => ByteEncoder.Encode(s.Content, ByteEncoder.ExtensionBytes(s.Extension, m.Config.PatchSize), m.Config)).ToArray();
        labels = tensor(Enumerable.Range(0, batch).Select(i => (long)(i % BenchModel.Labels.Count)).ToArray());
        return TorchBench.Tokens(tokens, batch);
    }

    /// <summary>Seconds spent in the last step's optimizer update (AdamW, plus the bf16 casts of mixed precision).</summary>
    public double LastUpdateSeconds { get; private set; }

    /// <summary>One optimizer step on the batch, as the trainers take it (TrainingLoop, without clipping); returns the loss.</summary>
    public float Step(Tensor x, Tensor labels)
    {
        float loss;
        var model = (BGptClassifier?)_work?.Model ?? _master;
        if (_work is null) _optimizer.ZeroGrad(); // mixed precision overwrites the master's gradients instead
        using (var scope = NewDisposeScope())
        {
            var l = F.cross_entropy(model.forward(x).to_type(ScalarType.Float32), labels);
            l.backward();
            loss = l.item<float>();
        }
        var sw = System.Diagnostics.Stopwatch.StartNew();
        _work?.AccumulateGradients();
        _optimizer.Step();
        _work?.Sync();
        LastUpdateSeconds = sw.Elapsed.TotalSeconds;
        return loss;
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _master.Dispose();
        _work?.Dispose();
    }

    public static void Run(BenchOptions o, Report report, BenchModel m, SampleData data)
    {
        using var pair = Measure.Pair(References.Torch);
        using var heap = Runtime.NativeMemory.RetainFreedMemory(); // as the trainers hold it (TorchSettingsScope)
        var c = m.Config;
        var shapes = new List<(int Bytes, int Batch)> { (1024, 1), (1024, 8), (8192, 1) };
        if (!o.Quick) shapes.Add((8192, 8));
        var fp32Times = new Dictionary<(int, int), double>();
        if (!Bf16.Runs) report.Add(new Row("training", m.Name, Engine, "classifier step: fwd + bwd + AdamW", "bf16 mixed", "all shapes", null, 0, "", Bf16.Skipped));
        foreach (var bf16 in Bf16.With(false, true))
        {
            using var bench = new TrainingBench(m, bf16);
            foreach (var (bytes, batch) in shapes)
            {
                using var x = Batch(m, data, bytes, batch, out var labels);
                using var _ = labels;
                float loss = 0;
                bool big = bytes * batch >= 65536;
                var t = Measure.Time(() => loss = bench.Step(x, labels), warmup: 1,
                    maxRuns: big ? (o.Quick ? 2 : 3) : o.Runs, budgetSeconds: o.RowBudgetSeconds, minRuns: big ? 2 : o.MinRuns);
                string precision = bf16 ? "bf16 mixed" : "fp32";
                string notes = (bf16 && fp32Times.TryGetValue((bytes, batch), out var f) ? $"{f / t.Median:0.00}× fp32; " : "") +
                               $"optimizer update {Report.Seconds(bench.LastUpdateSeconds)} of the last step";
                if (!bf16) fp32Times[(bytes, batch)] = t.Median;
                double flop = Flops.TrainingStep(Flops.ClassifierForward(c, batch, Flops.Patches(c, bytes), BenchModel.Labels.Count));
                report.Add(new Row("training", m.Name, Engine, "classifier step: fwd + bwd + AdamW", precision, $"{bytes / 1024} KB × batch {batch}", t, flop,
                    $"{batch / t.Median:0.00} files/s", notes));
            }
        }
        if (Bf16.Runs && (m.Name == "paper" || !o.Quick)) report.Findings.Add(Accuracy(m, data));
    }

    /// <summary>Loss and gradient agreement of a bf16 step with the fp32 one (dropout off, same input and weights).</summary>
    private static string Accuracy(BenchModel m, SampleData data)
    {
        var checkpoint = m.LoadLm();
        manual_seed(BenchModel.Seed);
        using var a = BGptModels.ClassifierFromPretrained(checkpoint, BenchModel.Labels.Count);
        using var copy = new BFloat16Copy(a, new BGptClassifier(a.Config, BenchModel.Labels.Count)); // the trainers' bf16 copy
        var b = (BGptClassifier)copy.Model;
        var pa = a.parameters().ToArray();
        var pb = b.parameters().ToArray();
        a.eval();
        b.eval();
        using var x = Batch(m, data, 1024, 8, out var labels);
        using var _ = labels;
        float la, lb;
        using (var s = NewDisposeScope()) { var l = F.cross_entropy(a.forward(x), labels); l.backward(); la = l.item<float>(); }
        using (var s = NewDisposeScope()) { var l = F.cross_entropy(b.forward(x).to_type(ScalarType.Float32), labels); l.backward(); lb = l.item<float>(); }
        double dot = 0, na = 0, nb = 0;
        using (no_grad())
            for (int i = 0; i < pa.Length; i++)
            {
                if (pa[i].grad is null || pb[i].grad is null) continue;   // unused parameters (the patch decoder's wte)
                using var ga = pa[i].grad!.to_type(ScalarType.Float64);
                using var gb = pb[i].grad!.to_type(ScalarType.Float64);
                dot += (ga * gb).sum().item<double>();
                na += (ga * ga).sum().item<double>();
                nb += (gb * gb).sum().item<double>();
            }
        return $"{m.Name} training, bf16 mixed vs fp32 (1 KB × 8, dropout off): loss {lb:0.00000} vs {la:0.00000} (|Δ| {Math.Abs(la - lb):0.0e+0}), " +
               $"gradient cosine {dot / Math.Sqrt(na * nb):0.0000}, norm ratio {Math.Sqrt(nb / na):0.000}.";
    }
}
