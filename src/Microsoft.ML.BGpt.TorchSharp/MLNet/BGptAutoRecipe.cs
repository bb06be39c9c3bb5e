using System.Diagnostics;
using Microsoft.ML.BGpt.Training;

namespace Microsoft.ML.BGpt;

/// <summary>Measured training speed of one configuration on this machine, in real (unpadded) tokens per second.</summary>
/// <param name="PretrainTokensPerSecond">Next-byte pretraining (patch- and byte-level decoders).</param>
/// <param name="FineTuneTokensPerSecond">Classifier fine-tuning (patch-level decoder and head).</param>
public sealed record BGptThroughput(double PretrainTokensPerSecond, double FineTuneTokensPerSecond);

/// <summary>
/// A complete CPU training recipe: the architecture, generative pretraining options (null when the budget leaves no
/// room for it) and fine-tuning options, plus a one-line account of why.
/// </summary>
public sealed record BGptRecipe(BGptConfig Config, BGptPretrainingOptions? Pretraining, BGptClassifierOptions Classifier,
    int WindowBytes, string Rationale);

/// <summary>
/// The default users get without tuning: reads the training data (file-length distribution, number of classes, number
/// of files) and a time budget, and returns a small bGPT configuration, window strategy and epoch counts that fit the
/// budget on this machine. Pretraining on the training bytes first, then fine-tuning; head + tail windows for files
/// longer than the window. Nothing here looks at labels beyond their count, or at file names.
/// </summary>
public static class BGptAutoRecipe
{
    /// <summary>Smallest and largest byte window (patch size x patch count) the recipe picks.</summary>
    public const int MinWindow = 512, MaxWindow = 8192;

    /// <summary>Share of the budget given to generative pretraining; the rest fine-tunes.</summary>
    public const double PretrainShare = 0.4;

    /// <summary>
    /// A conservative speed for hidden 128, 3 + 1 layers on two busy CPU cores, used when none is measured
    /// (<see cref="MeasureThroughput"/> gives the real one).
    /// </summary>
    public static BGptThroughput DefaultThroughput { get; } = new(8_000, 30_000);

    /// <summary>
    /// The architecture for data with these file lengths: a window that covers 90% of the files (a power of two,
    /// 512 to 8192 bytes), 16-byte patches up to 4 KiB windows and 32-byte patches beyond (at most 256 patches),
    /// hidden size 128 (256 from 5,000 training files), 3 patch-level layers and 1 byte-level layer.
    /// </summary>
    public static BGptConfig ChooseConfig(IReadOnlyList<long> fileLengths, int classes, int? windowBytes = null)
    {
        ArgumentNullException.ThrowIfNull(fileLengths);
        if (fileLengths.Count == 0) throw new ArgumentException("No training files.", nameof(fileLengths));
        if (classes < 2) throw new ArgumentException($"Classification needs at least two classes (got {classes}).", nameof(classes));
        int window = windowBytes ?? CoveringWindow(fileLengths);
        int patchSize = window <= 4096 ? 16 : 32;
        int hidden = fileLengths.Count >= 5000 ? 256 : 128;
        return BGptConfig.Create(patchSize: patchSize, patchLength: window / patchSize, hiddenSize: hidden, patchNumLayers: 3, byteNumLayers: 1);
    }

    /// <summary>The power-of-two window in [<see cref="MinWindow"/>, <see cref="MaxWindow"/>] that holds the 90th-percentile file (plus the extension and end patches).</summary>
    public static int CoveringWindow(IReadOnlyList<long> fileLengths)
    {
        var sorted = fileLengths.OrderBy(x => x).ToArray();
        long p90 = sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(0.9 * sorted.Length))];
        long need = p90 + 64; // extension patch + end patch at 32-byte patches
        int window = MinWindow;
        while (window < need && window < MaxWindow) window *= 2;
        return window;
    }

    /// <summary>
    /// The recipe for <paramref name="fileLengths"/> (one per training file), <paramref name="classes"/> classes and a
    /// training <paramref name="budget"/>, using <paramref name="throughput"/> (measured with <see cref="MeasureThroughput"/>;
    /// <see cref="DefaultThroughput"/> when null) to turn the budget into epochs. When the covering window would leave
    /// fewer than 3 fine-tuning epochs or one pretraining epoch, the window halves (head + tail keep both ends of each file) down to 512 bytes.
    /// </summary>
    public static BGptRecipe Create(IReadOnlyList<long> fileLengths, int classes, TimeSpan budget, BGptThroughput? throughput = null,
        int? windowBytes = null, int seed = 0)
    {
        var config = ChooseConfig(fileLengths, classes, windowBytes);
        if (budget <= TimeSpan.Zero) throw new ArgumentException($"The budget must be positive (got {budget}).", nameof(budget));
        var speed = throughput ?? DefaultThroughput;
        int window = config.MaxTokens;
        var why = new List<string>();
        while (true)
        {
            var (pre, fine) = Epochs(fileLengths, window, budget, speed);
            // Short of fine-tuning epochs: halve. Short of a pretraining epoch: halve only while the median file still fits.
            // Never cut most files to buy epochs, except when files are longer than any window (head + tail then carry them).
            long median = Median(fileLengths);
            bool cutsFew = median + 32 <= window / 2;
            bool alreadyCut = CoveringWindow(fileLengths) >= MaxWindow && median + 32 > MaxWindow / 2 && window > 2048;
            bool halve = (fine < 3 && (cutsFew || alreadyCut)) || (pre < 1 && cutsFew);
            if (!halve || window <= MinWindow || windowBytes is not null)
            {
                var final = ChooseConfig(fileLengths, classes, window);
                return Build(final, fileLengths, pre, fine, budget, speed, seed, why);
            }
            why.Add($"window {window} B leaves {pre:F1} pretraining + {fine:F1} fine-tuning epochs; halved");
            window /= 2;
        }
    }

    /// <summary>
    /// Pretraining and fine-tuning epochs that fit <paramref name="budget"/> for a window: a share <see cref="PretrainShare"/>
    /// for pretraining, the rest for fine-tuning, with a third of each phase kept for validation passes and overheads
    /// (measured step rates overstate whole epochs by about that much on a busy machine).
    /// </summary>
    public static (double Pretrain, double FineTune) Epochs(IReadOnlyList<long> fileLengths, int windowBytes, TimeSpan budget, BGptThroughput speed)
    {
        double tokensPerEpoch = fileLengths.Sum(l => (double)Math.Min(l + 32, windowBytes));
        double seconds = budget.TotalSeconds / 1.5;
        double pre = PretrainShare * seconds * speed.PretrainTokensPerSecond / tokensPerEpoch;
        double fine = (1 - PretrainShare) * seconds * speed.FineTuneTokensPerSecond / tokensPerEpoch;
        return (pre, fine);
    }

    private static BGptRecipe Build(BGptConfig config, IReadOnlyList<long> lengths, double pre, double fine, TimeSpan budget,
        BGptThroughput speed, int seed, List<string> why)
    {
        int window = config.MaxTokens;
        bool longFiles = lengths.Count(l => l + 32 > window) > lengths.Count / 20; // more than 5% cut
        int preEpochs = pre >= 0.6 ? (int)Math.Clamp(Math.Round(pre), 1, 8) : 0;
        int fineEpochs = (int)Math.Clamp(Math.Floor(fine), 2, 30);
        if (preEpochs == 0) why.Add($"budget leaves {pre:F2} pretraining epochs: pretraining skipped, fine-tuning gets its share");
        if (preEpochs == 0) fineEpochs = (int)Math.Clamp(Math.Floor(fine / (1 - PretrainShare)), 2, 30);
        int batch = lengths.Count >= 800 ? 16 : 8;
        var pretraining = preEpochs == 0 ? null : new BGptPretrainingOptions
        {
            Config = config, Epochs = preEpochs, BatchSize = batch, LearningRate = 2e-3, WarmupFraction = 0.05,
            TrainTruncation = TruncationStrategy.RandomCrop, EvalTruncation = TruncationStrategy.HeadTail,
            ValidationFraction = 0.05, EarlyStoppingPatience = 0, Seed = seed,
        };
        var classifier = new BGptClassifierOptions
        {
            Config = config, Epochs = fineEpochs, BatchSize = batch, LearningRate = pretraining is null ? 5e-4 : 1e-3, WarmupFraction = 0.1,
            TrainTruncation = longFiles ? TruncationStrategy.HeadTail : TruncationStrategy.RandomCrop,
            EvalTruncation = TruncationStrategy.HeadTail, ValidationFraction = 0.1, EarlyStoppingPatience = 4, RestoreBestEpoch = true,
            Seed = seed,
        };
        why.Insert(0, $"{lengths.Count} files, p90 window {window} B ({config.PatchLength} patches of {config.PatchSize} B), hidden {config.HiddenSize}, " +
            $"{config.PatchNumLayers}+{config.ByteNumLayers} layers; budget {budget.TotalMinutes:F1} min at {speed.PretrainTokensPerSecond:F0}/{speed.FineTuneTokensPerSecond:F0} tokens/s " +
            $"-> {preEpochs} pretraining + {fineEpochs} fine-tuning epochs; {(longFiles ? "head+tail windows for long files" : "files fit the window")}");
        return new BGptRecipe(config, pretraining, classifier, window, string.Join("; ", why));
    }

    /// <summary>
    /// Times a few optimizer steps of pretraining and of fine-tuning <paramref name="config"/> on <paramref name="sample"/>
    /// (a few dozen training files; the first step is not counted) and returns tokens per second.
    /// </summary>
    public static BGptThroughput MeasureThroughput(BGptConfig config, IReadOnlyList<ReadOnlyMemory<byte>> sample, int classes,
        int batchSize = 16, int steps = 4, int? threads = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (sample.Count == 0) throw new ArgumentException("No sample files.", nameof(sample));
        var files = Enumerable.Range(0, batchSize * (steps + 1)).Select(i => sample[i % sample.Count]).ToArray();
        var examples = files.Select((f, i) => new ByteExample(f, ReadOnlyMemory<byte>.Empty, i % classes)).ToList();
        double tokensPerBatch = files.Average(f => (double)Math.Min(f.Length + config.PatchSize, config.MaxTokens)) * batchSize;

        double Time(Action<IProgress<TrainingProgress>> train)
        {
            var clock = new Stopwatch();
            int seen = 0;
            train(new SyncProgress(_ => { if (seen++ == 0) clock.Start(); }));
            clock.Stop();
            return Math.Max(1, seen - 1) * tokensPerBatch / Math.Max(1e-3, clock.Elapsed.TotalSeconds);
        }

        double pre = Time(p => Pretrainer.Train(examples, null, config, null, new PretrainingOptions
        {
            Epochs = 1, BatchSize = batchSize, ValidationFraction = 0, EarlyStoppingPatience = 0, RestoreBestEpoch = false,
            TrainTruncation = TruncationStrategy.HeadTail, Threads = threads,
        }, p).Model.Dispose());
        double fine = Time(p => ClassifierTrainer.Train(examples, null, classes, config, null, new ClassifierTrainingOptions
        {
            Epochs = 1, BatchSize = batchSize, ValidationFraction = 0, EarlyStoppingPatience = 0, RestoreBestEpoch = false,
            TrainTruncation = TruncationStrategy.HeadTail, Threads = threads,
        }, p).Model.Dispose());
        return new BGptThroughput(pre, fine);
    }

    private static long Median(IReadOnlyList<long> lengths) => lengths.OrderBy(x => x).ElementAt(lengths.Count / 2);

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
