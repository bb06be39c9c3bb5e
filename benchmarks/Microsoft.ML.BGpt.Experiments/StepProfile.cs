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

    /// <summary>
    /// lmbench=1: the LM loss as the model computes it (P byte-decoder tokens a patch) against the original's P + 1 (the
    /// teacher-forced logits, narrowed), in alternation on one input of the given config, under inference mode.
    /// </summary>
    public static void LmLoss(BGptConfig config, byte[] file, int rounds)
    {
        manual_seed(0);
        using var model = new BGptLMHeadModel(config);
        model.eval();
        using var mode = inference_mode();
        using var tokens = tensor(ByteEncoder.Encode(file, ReadOnlySpan<byte>.Empty, config).Select(t => (long)t).ToArray()).unsqueeze(0);
        var times = new Dictionary<string, List<double>> { ["P tokens (Loss)"] = new(), ["P + 1 tokens"] = new() };
        double a = 0, b = 0;
        for (int r = 0; r < rounds + 1; r++)
        {
            var sw = Stopwatch.StartNew();
            using (NewDisposeScope()) a = model.Loss(tokens).item<float>();
            if (r > 0) times["P tokens (Loss)"].Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            using (NewDisposeScope())
            {
                var logits = model.ByteLogits(tokens);                                   // [M, P + 1, 257]
                var targets = tokens.view(-1, config.PatchSize).narrow(0, 1, logits.shape[0]).reshape(-1);
                b = nn.functional.cross_entropy(logits.narrow(1, 0, config.PatchSize).reshape(-1, 257), targets).item<float>();
            }
            if (r > 0) times["P + 1 tokens"].Add(sw.Elapsed.TotalMilliseconds);
        }
        Console.WriteLine($"lmbench: {tokens.shape[1] / config.PatchSize} patches, hidden {config.HiddenSize}, {config.PatchNumLayers} + {config.ByteNumLayers} layers, threads {get_num_threads()}; losses {a:F6} / {b:F6}");
        foreach (var (name, l) in times) Console.WriteLine($"  {name,-18} median {Median(l),8:F1} ms  (min {l.Min():F1}, max {l.Max():F1}, {l.Count} runs)");
    }

    private static double Median(List<double> l) => l.Order().ElementAt(l.Count / 2);
}
