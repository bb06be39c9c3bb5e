// Recipe development: trains one bGPT classifier (optionally after sampled generative pretraining) on a dataset's
// train.csv and reports accuracy per epoch on a validation share of those files. The test split is never read.
//   dotnet run -c Release --project benchmarks/Microsoft.ML.BGpt.Experiments -- data=<folder> [window=2048] [patch=16]
//       [hidden=128] [layers=3] [epochs=10] [batch=16] [lr=5e-4] [dropout=0.1] [wd=0.01] [threads=1]
//       [pre=0 (pretraining epochs)] [presample=0 (PatchSamplingBatchSize)] [prelr=2e-3] [trunc=HeadTail] [precision=fp32|bf16]
// docs/evaluation.md lists the runs behind the Auto recipe's choices.
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.BGpt;
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
    .Select(p => (Bytes: File.ReadAllBytes(Path.Combine(folder, p[0])), Label: p[1])).ToList();
// 48 files spread over the training set, as BGptAutoClassificationEstimator samples them for its probe.
List<byte[]> ProbeSample() => rows.Where((_, i) => i % Math.Max(1, rows.Count / 48) == 0).Take(48).Select(r => r.Bytes).ToList();
if (settings.ContainsKey("plan"))
{
    // What Trainers.BGptAuto plans on this data: plan=1.
    var sample = ProbeSample().Select(b => (ReadOnlyMemory<byte>)b).ToList();
    var lengths = rows.Select(r => (long)r.Bytes.Length).ToList();
    var planClock = Stopwatch.StartNew();
    var (planned, speed) = BGptAutoRecipe.Plan(lengths, rows.Select(r => r.Label).Distinct().Count(), sample,
        recordStride: BGptAutoRecipe.DetectRecordStride(sample));
    Console.WriteLine($"plan: hidden {planned.HiddenSize}, {planned.PatchNumLayers} layers, {speed.Precision}: pretraining {speed.PretrainTokensPerSecond:F0}, fine-tuning {speed.FineTuneTokensPerSecond:F0} tokens/s ({planClock.Elapsed.TotalSeconds:F0} s)");
    return;
}
if (settings.ContainsKey("probe"))
{
    // The Auto speed probe's fine-tuning timing (BGptAutoRecipe.Measure) in fp32 and bf16, with or without a warm-up run
    // over the same batches (warm=1), in a fresh process: probe=1 [warm=0|1] [window=8192] [patch=32].
    var sample = ProbeSample();
    var probeConfig = BGptConfig.Create(patchSize: patch, patchLength: (window + patch - 1) / patch, hiddenSize: Int("hidden", 128),
        patchNumLayers: Int("layers", 3), byteNumLayers: 1);
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
    patchNumLayers: Int("layers", 3), byteNumLayers: 1);
Console.WriteLine($"{Path.GetFileName(folder)}: {examples.Count} files, {labels.Count} classes; {config.PatchLength} patches of {patch} B, hidden {config.HiddenSize}, {config.PatchNumLayers} layers, {precision}");

var clock = Stopwatch.StartNew();
manual_seed(0);
var model = new BGptClassifier(config, labels.Count);
if (pretrainEpochs > 0)
{
    var lm = Pretrainer.Train(examples, null, config, null, new PretrainingOptions
    {
        Epochs = pretrainEpochs, BatchSize = batch, LearningRate = Real("prelr", 2e-3), WarmupFraction = 0.05,
        TrainTruncation = TruncationStrategy.RandomCrop, EvalTruncation = truncation, ValidationFraction = 0.05,
        EarlyStoppingPatience = 0, PatchSamplingBatchSize = Int("presample", 0), Precision = precision,
    });
    foreach (var h in lm.History) Console.WriteLine($"pretrain {h.Epoch}: train {h.TrainLoss:F3}, validation {h.BitsPerByte:F3} bits/byte, {h.Seconds:F0} s");
    model.Dispose();
    model = BGptModels.ClassifierFromPretrained(BGptModels.ToCheckpoint(lm.Model), labels.Count);
    lm.Model.Dispose();
}
var result = ClassifierTrainer.Train(examples, null, model, new ClassifierTrainingOptions
{
    Epochs = Int("epochs", 10), BatchSize = batch, LearningRate = Real("lr", 5e-4), Dropout = Real("dropout", 0.1), WeightDecay = Real("wd", 0.01),
    WarmupFraction = 0.1, TrainTruncation = truncation, EvalTruncation = truncation, ValidationFraction = 0.1, EarlyStoppingPatience = 0,
    Precision = precision,
});
foreach (var h in result.History) Console.WriteLine($"epoch {h.Epoch}: train {h.TrainLoss:F3}, validation loss {h.ValidationLoss:F3}, accuracy {h.ValidationAccuracy:P1}, {h.Seconds:F0} s");
Console.WriteLine($"total {clock.Elapsed.TotalSeconds:F0} s");
result.Model.Dispose();

sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => report(value);
}
