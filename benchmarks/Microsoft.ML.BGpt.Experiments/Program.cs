// Recipe development: trains one bGPT classifier (optionally after sampled generative pretraining) on a dataset's
// train.csv and reports accuracy per epoch on a validation share of those files. The test split is never read.
//   dotnet run -c Release --project benchmarks/Microsoft.ML.BGpt.Experiments -- data=<folder> [window=2048] [patch=16]
//       [hidden=128] [layers=3] [epochs=10] [batch=16] [lr=5e-4] [dropout=0.1] [wd=0.01] [threads=1]
//       [pre=0 (pretraining epochs)] [presample=0 (PatchSamplingBatchSize)] [prelr=2e-3] [trunc=HeadTail] [precision=fp32|bf16]
//       [shift=0 (ByteShift)] [resample=0 (Resampling)] [seed=0 (selection=1: training seed)] [init=linear (selection=1 from scratch: patch embedding linear in the byte value)]
//       [smoothing=0 (ByteValueSmoothing of a from-scratch model; what init=smooth:sigma measured)]
//       [profile=1 [steps=5]: the time of each part of one training step]
//       [int8=1: a fifth of the files held out; the exported graph's accuracy in fp32 and int8 with 8- and 7-bit weights]
// docs/evaluation.md lists the runs behind the Auto recipe's choices.
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.BGpt;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Training;
using static TorchSharp.torch;

var settings = args.Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
string Get(string key, string fallback) => settings.TryGetValue(key, out var v) ? v : fallback;
int Int(string key, int fallback) => int.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
double Real(string key, double fallback) => double.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

string folder = settings.TryGetValue("data", out var d) ? d : throw new ArgumentException("data=<dataset folder with train.csv> is required");
int window = Int("window", 2048), patch = Int("patch", 16), batch = Int("batch", 16), pretrainEpochs = Int("pre", 0);
var truncation = Enum.Parse<TruncationStrategy>(Get("trunc", "HeadTail"));
var precision = Get("precision", "fp32") switch
{
    "fp32" => TrainingPrecision.Float32,
    "bf16" => TrainingPrecision.BFloat16Mixed,
    var p => throw new ArgumentException($"precision={p}: use fp32 or bf16"),
};
set_num_threads(Int("threads", 1));

var rows = File.ReadLines(Path.Combine(folder, "train.csv")).Skip(1).Select(l => l.Split(','))
    .Select(p => (Bytes: File.ReadAllBytes(Path.Combine(folder, p[0])), Label: p[1], Group: p.Length > 2 ? p[2] : p[0])).ToList();
// 48 files spread over the training set, as BGptAutoClassificationEstimator samples them for its probe.
List<byte[]> ProbeSample() => rows.Where((_, i) => i % Math.Max(1, rows.Count / 48) == 0).Take(48).Select(r => r.Bytes).ToList();
if (settings.ContainsKey("plan"))
{
    // What Trainers.BGptAuto plans on this data: plan=1.
    var sample = ProbeSample().Select(b => (ReadOnlyMemory<byte>)b).ToList();
    var lengths = rows.Select(r => (long)r.Bytes.Length).ToList();
    var planClock = Stopwatch.StartNew();
    var (planned, speed, _) = BGptAutoRecipe.Plan(lengths, rows.Select(r => r.Label).Distinct().Count(), sample);
    Console.WriteLine($"plan: hidden {planned.HiddenSize}, {planned.PatchNumLayers} layers, {speed.Precision}: pretraining {speed.PretrainTokensPerSecond:F0}, fine-tuning {speed.FineTuneTokensPerSecond:F0} tokens/s ({planClock.Elapsed.TotalSeconds:F0} s)");
    return;
}
if (settings.ContainsKey("probe"))
{
    // The Auto speed probe's fine-tuning timing (BGptAutoRecipe.Measure) in fp32 and bf16, with or without a warm-up run
    // over the same batches (warm=1), in a fresh process: probe=1 [warm=0|1] [window=8192] [patch=32].
    var sample = ProbeSample();
    var probeConfig = BGptConfig.Create(patchSize: patch, patchLength: (window + patch - 1) / patch, hiddenSize: Int("hidden", 128),
        patchNumLayers: Int("layers", 3), byteNumLayers: 1, bigramBuckets: Int("bigram", 0));
    var files = Enumerable.Range(0, batch * 5).Select(i => sample[i % sample.Count]).ToArray();
    var probeExamples = files.Select((f, i) => new ByteExample(f, ReadOnlyMemory<byte>.Empty, i % 10)).ToList();
    double tokens = files.Average(f => (double)Math.Min(f.Length + patch, probeConfig.MaxTokens)) * batch;
    double Probe(TrainingPrecision p)
    {
        void Run(IProgress<TrainingProgress>? progress) => ClassifierTrainer.Train(probeExamples, null, 10, probeConfig, null, new ClassifierTrainingOptions
        {
            Epochs = 1, BatchSize = batch, ValidationFraction = 0, EarlyStoppingPatience = 0, RestoreBestEpoch = false,
            TrainTruncation = TruncationStrategy.HeadTail, Threads = Int("threads", 2), Precision = p,
        }, progress).Model.Dispose();
        if (Int("warm", 0) == 1) Run(null);
        var sw = Stopwatch.StartNew();
        double first = 0, last = 0;
        int seen = 0;
        Run(new Progress(_ => { last = sw.Elapsed.TotalSeconds; if (seen++ == 0) first = last; }));
        return (seen - 1) * tokens / (last - first);
    }
    double fp32 = Probe(TrainingPrecision.Float32), bf16 = Probe(TrainingPrecision.BFloat16Mixed);
    Console.WriteLine($"probe warm={Int("warm", 0)}: fp32 {fp32:F0}, bf16 {bf16:F0} tokens/s, bf16/fp32 {bf16 / fp32:F2}");
    return;
}
var labels = rows.Select(r => r.Label).Distinct().Order().ToList();
var examples = rows.Select(r => new ByteExample(r.Bytes, ReadOnlyMemory<byte>.Empty, labels.IndexOf(r.Label))).ToList();
var config = BGptConfig.Create(patchSize: patch, patchLength: (window + patch - 1) / patch, hiddenSize: Int("hidden", 128),
    patchNumLayers: Int("layers", 3), byteNumLayers: 1, bigramBuckets: Int("bigram", 0));
if (settings.ContainsKey("dropoutbench")) { StepProfile.Dropout(); return; }
if (settings.ContainsKey("lmbench")) // lmbench=1 [rounds=7]: the LM loss with P against P + 1 byte-decoder tokens a patch
{
    StepProfile.LmLoss(BGptConfig.Create(patchSize: patch, patchLength: (window + patch - 1) / patch, hiddenSize: Int("hidden", 128),
        patchNumLayers: Int("layers", 3), byteNumLayers: Int("bytelayers", 1)), rows.First(r => r.Bytes.Length >= window - 2 * patch).Bytes[..(window - 2 * patch)], Int("rounds", 7));
    return;
} // dropoutbench=1: ways of drawing a dropout mask
if (settings.ContainsKey("profile"))
{
    // Where a training step's time goes: profile=1 [steps=5] with the model and batch settings.
    StepProfile.Run(config with { Dropout = Real("dropout", 0.2) }, examples, labels.Count, batch, precision, Int("steps", 5));
    return;
}
Console.WriteLine($"{Path.GetFileName(folder)}: {examples.Count} files, {labels.Count} classes; {config.PatchLength} patches of {patch} B, hidden {config.HiddenSize}, {config.PatchNumLayers} layers, {precision}");

if (settings.ContainsKey("fullfit"))
{
    // Is a validation share worth its files? fullfit=1: 20 % of the groups are a pseudo-test set; on the rest, one run
    // holds out 10 % (per label, as the trainers do) and keeps its best validation epoch, the other trains on every
    // file and keeps its last epoch (the cosine schedule ends at 0). Both start from the same pretrained LM.
    var rng = new Random(0);
    var ffLabels = rows.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToList();
    List<ByteExample> Ex(List<int> idx) => idx.Select(i => new ByteExample(rows[i].Bytes, ReadOnlyMemory<byte>.Empty, ffLabels.IndexOf(rows[i].Label)) { Group = rows[i].Group }).ToList();
    var all = Enumerable.Range(0, rows.Count).ToList();
    var pseudoTest = DataSplit.HoldOutGroups(Ex(all), 0.2, rng).ToList();
    var rest = all.Except(pseudoTest).ToList();
    var (tr, pt) = (Ex(rest).Select(e => e with { Group = null }).ToList(), Ex(pseudoTest));
    var ffConfig = BGptConfig.Create(patchSize: patch, patchLength: (window + patch - 1) / patch, hiddenSize: Int("hidden", 128),
        patchNumLayers: Int("layers", 3), byteNumLayers: 1, bigramBuckets: Int("bigram", 0));
    Console.WriteLine($"fullfit: train {tr.Count}, pseudo-test {pt.Count} files");
    var start = Pretrain(tr, ffConfig, 0.02)?.Weights;
    foreach (var share in new[] { 0.1, 0.0 })
    {
        var tests = new List<double>();
        var ff = ClassifierTrainer.Train(tr, null, ffLabels.Count, ffConfig, start, new ClassifierTrainingOptions
        {
            Epochs = Int("epochs", 10), BatchSize = batch, LearningRate = Real("lr", 5e-4), Dropout = Real("dropout", 0.2), WeightDecay = Real("wd", 0.1),
            WarmupFraction = 0.1, TrainTruncation = truncation, EvalTruncation = truncation, EarlyStoppingPatience = 0,
            ValidationFraction = share, RestoreBestEpoch = true, Precision = precision, ByteShift = Int("shift", 0), Resampling = Real("resample", 0), ByteValueSmoothing = Real("smoothing", 0),
            AfterEpoch = (_, module) => tests.Add(ClassifierTrainer.Evaluate((BGptClassifier)module, pt, batch, truncation).Accuracy!.Value),
        });
        var kept = ClassifierTrainer.Evaluate(ff.Model, pt, batch, truncation).Accuracy!.Value;
        Console.WriteLine($"validation share {share:P0}: kept epoch {ff.BestEpoch} -> pseudo-test {kept:P1}; per epoch {string.Join(" ", tests.Select(t => t.ToString("P1", CultureInfo.InvariantCulture)))}");
        ff.Model.Dispose();
    }
    return;
}
if (settings.ContainsKey("selection"))
{
    // Which validation picks the epoch that generalises to unseen groups (voices, packages, sources)? selection=1:
    // 20 % of the groups are a pseudo-test set; of the rest, 10 % of the groups are a group validation set and 10 % of
    // the remaining files (per label) a random one. One run trains on what is left; every epoch is scored on all three.
    // Both group sets are drawn as the trainers draw theirs (DataSplit.HoldOutGroups: whole groups, labels near their share).
    var rng = new Random(0);
    var selLabels = rows.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToList();
    List<ByteExample> Ex(List<int> idx) => idx.Select(i => new ByteExample(rows[i].Bytes, ReadOnlyMemory<byte>.Empty, selLabels.IndexOf(rows[i].Label)) { Group = rows[i].Group }).ToList();
    List<int> TakeGroups(List<int> pool, double share) => DataSplit.HoldOutGroups(Ex(pool), share, rng).Select(k => pool[k]).ToList();
    var groups = rows.Select(r => r.Group).Distinct().ToArray();
    var all = Enumerable.Range(0, rows.Count).ToList();
    var pseudoTest = TakeGroups(all, 0.2);
    var rest = all.Except(pseudoTest).ToList();
    var groupVal = TakeGroups(rest, 0.1);
    rest = rest.Except(groupVal).ToList();
    var randomVal = rest.GroupBy(i => rows[i].Label).OrderBy(g => g.Key, StringComparer.Ordinal)
        .SelectMany(g => { var a = g.ToArray(); rng.Shuffle(a); return a.Take((int)Math.Round(a.Length * 0.1)); }).ToList();
    var trainIdx = rest.Except(randomVal).ToList();
    var (tr, gv, rv, pt) = (Ex(trainIdx), Ex(groupVal), Ex(randomVal), Ex(pseudoTest));
    var selConfig = BGptConfig.Create(patchSize: patch, patchLength: (window + patch - 1) / patch, hiddenSize: Int("hidden", 128),
        patchNumLayers: Int("layers", 3), byteNumLayers: 1, bigramBuckets: Int("bigram", 0));
    Console.WriteLine($"selection: train {tr.Count}, group validation {gv.Count}, random validation {rv.Count}, pseudo-test {pt.Count} files; {groups.Length} groups");
    var start = Pretrain(tr, selConfig, 0.05)?.Weights ?? InitialWeights(selConfig, selLabels.Count);
    var scores = new List<(int Epoch, double Random, double Test)>();
    var snapshots = new List<Dictionary<string, TensorData>>(); // every epoch's weights, for the weight averages below
    var selResult = ClassifierTrainer.Train(tr, gv, selLabels.Count, selConfig, start, new ClassifierTrainingOptions
    {
        Epochs = Int("epochs", 10), BatchSize = batch, LearningRate = Real("lr", 5e-4), Dropout = Real("dropout", 0.2), WeightDecay = Real("wd", 0.1),
        WarmupFraction = 0.1, TrainTruncation = truncation, EvalTruncation = truncation, EarlyStoppingPatience = 0, RestoreBestEpoch = false,
        Precision = precision, ByteShift = Int("shift", 0), Resampling = Real("resample", 0), ByteValueSmoothing = Real("smoothing", 0), Seed = Int("seed", 0),
        AfterEpoch = (epoch, module) =>
        {
            var m = (BGptClassifier)module;
            snapshots.Add(ModelWeights.Export(m));
            scores.Add((epoch, ClassifierTrainer.Evaluate(m, rv, batch, truncation).Accuracy!.Value, ClassifierTrainer.Evaluate(m, pt, batch, truncation).Accuracy!.Value));
        },
    });
    var byEpoch = selResult.History.Zip(scores, (h, s) => (s.Epoch, Group: h.ValidationAccuracy!.Value, GroupLoss: h.ValidationLoss!.Value, s.Random, s.Test, h.Seconds)).ToList();
    foreach (var e in byEpoch) Console.WriteLine($"epoch {e.Epoch}: group validation {e.Group:P1}, random validation {e.Random:P1}, pseudo-test {e.Test:P1}, {e.Seconds:F0} s, group validation loss {e.GroupLoss:F4}");
    // The original's pick: the first best (ties to the lower loss); and the latest within one standard error of it
    // (BestEpochTolerance = 1, what Auto sets).
    var byGroup = byEpoch.OrderByDescending(e => e.Group).ThenBy(e => e.GroupLoss).ThenBy(e => e.Epoch).First();
    var tolerant = byEpoch.Last(e => ClassifierObjective.IsWithinStandardErrors(e.Group, byGroup.Group, gv.Count, 1));
    var byRandom = byEpoch.First(e => e.Random == byEpoch.Max(x => x.Random));
    Console.WriteLine($"picked by group validation: epoch {byGroup.Epoch} -> pseudo-test {byGroup.Test:P1}; latest within one standard error: epoch {tolerant.Epoch} -> {tolerant.Test:P1}; by random validation: epoch {byRandom.Epoch} -> {byRandom.Test:P1}; last epoch {byEpoch[^1].Test:P1}; best possible {byEpoch.Max(x => x.Test):P1}");
    // Weight averages of the last k epochs (stochastic weight averaging over the decayed end of the schedule).
    foreach (int k in new[] { 3, 5, 10 }.Where(k => k <= snapshots.Count))
    {
        var last = snapshots.TakeLast(k).ToList();
        var mean = last[0].ToDictionary(kv => kv.Key, kv =>
        {
            var sum = new double[kv.Value.ToFloatArray().Length];
            foreach (var w in last) { var a = w[kv.Key].ToFloatArray(); for (int i = 0; i < a.Length; i++) sum[i] += a[i]; }
            return TensorData.FromFloats(sum.Select(v => (float)(v / k)).ToArray(), kv.Value.Shape);
        });
        ModelWeights.Load(selResult.Model, mean, "average");
        Console.WriteLine($"average of the last {k} epochs: group validation {ClassifierTrainer.Evaluate(selResult.Model, gv, batch, truncation).Accuracy:P1}, pseudo-test {ClassifierTrainer.Evaluate(selResult.Model, pt, batch, truncation).Accuracy:P1}");
    }
    selResult.Model.Dispose();
    return;
}

// int8=1: every fifth file is held out of training, for the served int8 graphs' accuracy (Int8Accuracy).
var heldOut = settings.ContainsKey("int8") ? examples.Where((_, i) => i % 5 == 4).ToList() : null;
if (heldOut is not null) examples = examples.Where((_, i) => i % 5 != 4).ToList();
var clock = Stopwatch.StartNew();
manual_seed(0);
var model = new BGptClassifier(config, labels.Count);
if (Pretrain(examples, config, 0.05) is { } pretrained)
{
    model.Dispose();
    model = BGptModels.ClassifierFromPretrained(pretrained, labels.Count);
}
var result = ClassifierTrainer.Train(examples, null, model, new ClassifierTrainingOptions
{
    Epochs = Int("epochs", 10), BatchSize = batch, LearningRate = Real("lr", 5e-4), Dropout = Real("dropout", 0.1), WeightDecay = Real("wd", 0.01),
    WarmupFraction = 0.1, TrainTruncation = truncation, EvalTruncation = truncation, ValidationFraction = 0.1, EarlyStoppingPatience = 0,
    Precision = precision, ByteShift = Int("shift", 0), Resampling = Real("resample", 0), ByteValueSmoothing = Real("smoothing", 0),
});
foreach (var h in result.History) Console.WriteLine($"epoch {h.Epoch}: train {h.TrainLoss:F3}, validation loss {h.ValidationLoss:F3}, accuracy {h.ValidationAccuracy:P1}, {h.Seconds:F0} s");
Console.WriteLine($"total {clock.Elapsed.TotalSeconds:F0} s");
if (heldOut is not null) Int8Accuracy.Run(result.Model, heldOut, truncation, Int("threads", 1));
result.Model.Dispose();

// A from-scratch start whose patch embedding is linear in the byte value (init=linear); null otherwise.
// Row (i, v) = u(v) * a_i + noise, u(v) = (v - 127.5) / 127.5, so patches embed like numbers.
IReadOnlyDictionary<string, TensorData>? InitialWeights(BGptConfig cfg, int labelCount)
{
    var init = Get("init", "");
    if (init == "") return null;
    if (init != "linear") throw new ArgumentException($"init={init}: use linear (init=smooth:sigma is now smoothing=sigma)");
    manual_seed(Int("seed", 0));
    using var m = new BGptClassifier(cfg, labelCount);
    var w = ModelWeights.Export(m);
    const string key = "patch_level_decoder.patch_embedding.weight"; // [H, P * 257]
    int h = cfg.HiddenSize, p = cfg.PatchSize, v = cfg.VocabSize;
    var data = w[key].ToFloatArray();
    var rng = new Random(1);
    double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
    double scale = Real("initscale", 0.2), noise = Real("initnoise", 0.005);
    for (int r = 0; r < h; r++)
        for (int i = 0; i < p; i++)
        {
            double a = scale * Normal();
            for (int b = 0; b < 256; b++) data[r * p * v + i * v + b] = (float)((b - 127.5) / 127.5 * a + noise * Normal());
        }
    w[key] = TensorData.FromFloats(data, w[key].Shape);
    Console.WriteLine($"init={init}: patch embedding set from byte values");
    return w;
}

// Sampled generative pretraining as the recipe runs it: pre=N epochs on the given files; null when pre=0.
BGptCheckpoint? Pretrain(IReadOnlyList<ByteExample> files, BGptConfig cfg, double validationFraction)
{
    if (pretrainEpochs == 0) return null;
    var lm = Pretrainer.Train(files, null, cfg, null, new PretrainingOptions
    {
        Epochs = pretrainEpochs, BatchSize = batch, LearningRate = Real("prelr", 2e-3), WarmupFraction = 0.05,
        TrainTruncation = TruncationStrategy.RandomCrop, EvalTruncation = truncation, ValidationFraction = validationFraction,
        EarlyStoppingPatience = 0, PatchSamplingBatchSize = Int("presample", 0), Precision = precision, ByteValueSmoothing = Real("smoothing", 0),
    });
    foreach (var h in lm.History) Console.WriteLine($"pretrain {h.Epoch}: train {h.TrainLoss:F3}, validation {h.BitsPerByte:F3} bits/byte, {h.Seconds:F0} s");
    var checkpoint = BGptModels.ToCheckpoint(lm.Model);
    lm.Model.Dispose();
    return checkpoint;
}

sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => report(value);
}
