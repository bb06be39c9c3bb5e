using System.Diagnostics;
using Microsoft.ML.BGpt;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Training;
using static TorchSharp.torch;

/// <summary>
/// Where one classifier training step's time goes (profile=1): forward, backward, the bf16 copy's gradient hand-over,
/// clipping, AdamW (fused, and with libtorch's operations for comparison) and the copy's sync, each timed alone over the same batch, medians of the timed steps.
/// </summary>
internal static class StepProfile
{
    public static void Run(BGptConfig config, IReadOnlyList<ByteExample> examples, int labels, int batchSize, TrainingPrecision precision, int steps)
    {
        using var settings = new TorchSettingsScope(null); // keeps freed memory, as the trainers do
        manual_seed(0);
        using var model = new BGptClassifier(config, labels);
        var parameters = model.parameters().ToList();
        using var optimizer = new BGptAdamW(parameters, 5e-4, 0.9, 0.999, 1e-8, 0.1);
        using var copy = precision == TrainingPrecision.BFloat16Mixed ? new BFloat16Copy(model, new BGptClassifier(config, labels)) : null;
        var compute = new ClassifierObjective((BGptClassifier)(copy?.Model ?? model), null);
        var batcher = new ExampleBatcher(examples, config, batchSize);
        var batch = batcher.Batches(TruncationStrategy.HeadTail, new Random(0)).First();
        model.train();
        copy?.Model.train();
        var times = new Dictionary<string, List<double>>();
        void Time(string name, Action a)
        {
            var sw = Stopwatch.StartNew();
            a();
            (times.TryGetValue(name, out var l) ? l : times[name] = new()).Add(sw.Elapsed.TotalMilliseconds);
        }
        for (int s = 0; s < steps + 2; s++)
        {
            using var scope = NewDisposeScope();
            Tensor loss = null!;
            Time("forward", () => loss = compute.TrainingLoss(batch));
            Time("backward", () => loss.backward());
            if (copy is not null) Time("grads to fp32", () => copy.AccumulateGradients(first: true));
            Time("clip", () => nn.utils.clip_grad_norm_(parameters.Where(p => p.grad is not null).ToList(), 1.0));
            Time("adamw", () => optimizer.Step());
            // The same update with libtorch's nine operations per parameter, on the same gradients (an extra step: A/B in one process).
            Time("adamw, ops", () => { optimizer.UseFusedUpdate = false; optimizer.Step(); optimizer.UseFusedUpdate = true; });
            if (copy is null) Time("zero grad", () => optimizer.ZeroGrad());
            else Time("sync to bf16", () => copy.Sync());
            if (s < 2) foreach (var l in times.Values) l.Clear(); // warm-up steps
        }
        // The forward's parts, alone: the patch embedding, the transformer with and without the mask and dropout.
        using (var scope = NewDisposeScope())
        {
            var m = (BGptClassifier)(copy?.Model ?? model);
            var tokens = batch.TokenTensor();
            var mask = batch.MaskTensor();
            var decoder = m.PatchDecoder;
            for (int s = 0; s < steps + 2; s++)
            {
                using var inner = NewDisposeScope();
                Time("f: embedding", () => decoder.Embedding.forward(tokens.view(batch.Rows, -1, config.PatchSize)));
                Time("f: mask, dropout", () => m.forward(tokens, mask));
                Time("f: no mask", () => m.forward(tokens));
                m.eval();
                Time("f: mask, eval", () => m.forward(tokens, mask));
                Time("f: no mask, eval", () => m.forward(tokens));
                m.train();
                if (s < 2) foreach (var k in times.Keys.Where(k => k.StartsWith("f:"))) times[k].Clear();
            }
        }
        double total = times.Where(kv => !kv.Key.StartsWith("f:") && kv.Key != "adamw, ops").Sum(kv => Median(kv.Value));
        Console.WriteLine($"profile: {config.PatchLength} patches of {config.PatchSize} B, hidden {config.HiddenSize}, {config.PatchNumLayers} layers, bigrams {config.BigramBuckets}, batch {batchSize} ({batch.RealTokens} tokens), {precision}, threads {get_num_threads()}");
        foreach (var (name, l) in times) Console.WriteLine($"  {name,-14} {Median(l),8:F1} ms  ({100 * Median(l) / total:F0} %)");
        Console.WriteLine($"  {"step",-14} {total,8:F1} ms  -> {batch.RealTokens / total * 1000:F0} tokens/s");
    }

    /// <summary>libtorch's dropout and its mask draws against the model's Modeling.Dropout on one [16, 128, 256] activation (dropoutbench=1).</summary>
    public static void Dropout()
    {
        using var settings = new TorchSettingsScope(null); // keeps freed memory, as the trainers do
        var x = randn(16, 128, 256);
        var times = new Dictionary<string, List<double>>();
        void Time(string name, Func<Tensor> f)
        {
            for (int i = 0; i < 7; i++)
            {
                using var scope = NewDisposeScope();
                var sw = Stopwatch.StartNew();
                f();
                (times.TryGetValue(name, out var l) ? l : times[name] = new()).Add(sw.Elapsed.TotalMilliseconds);
            }
        }
        Time("F.dropout 0.2", () => nn.functional.dropout(x, 0.2, true));
        Time("bernoulli_ float", () => empty_like(x).bernoulli_(0.8));
        Time("bernoulli_ uint8", () => empty(x.shape, ScalarType.Byte).bernoulli_(0.8));
        Time("Dropout.Apply 0.2", () => Microsoft.ML.BGpt.Modeling.Dropout.Apply(x, 0.2, true));
        Time("Dropout.Mask", () => Microsoft.ML.BGpt.Modeling.Dropout.Mask(x.shape, 0.8, ScalarType.Float32));
        var xb = x.to_type(ScalarType.BFloat16);
        Time("F.dropout bf16", () => nn.functional.dropout(xb, 0.2, true));
        Time("Dropout.Apply bf16", () => Microsoft.ML.BGpt.Modeling.Dropout.Apply(xb, 0.2, true));
        foreach (var (name, l) in times) Console.WriteLine($"  {name,-18} {Median(l),8:F2} ms");
    }

    private static double Median(List<double> l) => l.Order().ElementAt(l.Count / 2);
}
