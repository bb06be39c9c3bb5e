using System.Diagnostics;
using Microsoft.ML.BGpt.Training;

namespace Microsoft.ML.BGpt;

/// <summary>Measured training speed of one configuration on this machine, in real (unpadded) tokens per second.</summary>
/// <param name="PretrainTokensPerSecond">Next-byte pretraining (patch- and byte-level decoders).</param>
/// <param name="FineTuneTokensPerSecond">Classifier fine-tuning (patch-level decoder and head).</param>
/// <param name="Precision">The arithmetic these speeds were measured with, which the recipe then trains with.</param>
public sealed record BGptThroughput(double PretrainTokensPerSecond, double FineTuneTokensPerSecond,
    TrainingPrecision Precision = TrainingPrecision.Float32);

/// <summary>
/// A complete CPU training recipe: the architecture, generative pretraining options (null when the budget leaves no
/// room for it) and fine-tuning options, plus a one-line account of why.
/// </summary>
/// <param name="Config">The architecture both phases train (hidden size, layers, patch size and patch count).</param>
/// <param name="Pretraining">Generative pretraining on the training bytes, or null when the budget leaves no room for it.</param>
/// <param name="Classifier">Fine-tuning: epochs, learning rate, regularisation, windows, precision and time limit.</param>
/// <param name="WindowBytes">The model's window, PatchSize x PatchLength bytes (<see cref="BGptConfig.MaxTokens"/>; the extension and end patches included).</param>
/// <param name="Rationale">Why: the measured file lengths, speed and budget behind the choices, in one line.</param>
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
    /// 512 to 8192 bytes), patches of the files' record stride when they have one (<see cref="DetectRecordStride"/>:
    /// image rows, fixed-size records; <see cref="BGptDataTraits.RecordStride"/>), else 16-byte patches up to 4 KiB windows
    /// and 32-byte patches beyond (at most 256 patches), or, for <see cref="BGptDataTraits.SmoothSignal"/> data
    /// (<see cref="IsSmoothSignal"/>: sampled waveforms), at most <see cref="SmoothSignalMaxPatches"/> patches (64 bytes
    /// at 8 KiB); hidden size 128 (256 from 5,000 training files), 3 patch-level layers and 1 byte-level layer;
    /// with <see cref="TrainingPrecision.BFloat16Mixed"/> (measured 2-2.5x faster), hidden 256 and 4 layers, which
    /// learn more per epoch (validation runs in docs/evaluation.md) at about the fp32 small model's cost. Data with
    /// neither a record stride nor a smooth signal (text, binaries, mixed files: bytes that are symbols, not
    /// quantities) also gets <see cref="SymbolBigramBuckets"/> hashed byte-bigram buckets (<see cref="BGptConfig.BigramBuckets"/>).
    /// </summary>
    public static BGptConfig ChooseConfig(IReadOnlyList<long> fileLengths, int classes, int? windowBytes = null, BGptDataTraits? traits = null,
        TrainingPrecision precision = TrainingPrecision.Float32)
    {
        traits ??= BGptDataTraits.None;
        ArgumentNullException.ThrowIfNull(fileLengths);
        if (fileLengths.Count == 0) throw new ArgumentException("No training files.", nameof(fileLengths));
        if (classes < 2) throw new ArgumentException($"Classification needs at least two classes (got {classes}).", nameof(classes));
        if (traits.RecordStride is < MinStride or > MaxStride)
            throw new ArgumentOutOfRangeException(nameof(traits), traits.RecordStride, $"A record stride must be in [{MinStride}, {MaxStride}].");
        int window = windowBytes ?? CoveringWindow(fileLengths);
        int patchSize = traits.RecordStride ?? Math.Max(16, window / (traits.SmoothSignal ? SmoothSignalMaxPatches : 256));
        bool bf16 = precision == TrainingPrecision.BFloat16Mixed;
        int hidden = bf16 || fileLengths.Count >= 5000 ? 256 : 128;
        bool symbols = traits.RecordStride is null && !traits.SmoothSignal;
        return BGptConfig.Create(patchSize: patchSize, patchLength: (window + patchSize - 1) / patchSize, hiddenSize: hidden,
            patchNumLayers: bf16 ? 4 : 3, byteNumLayers: 1, bigramBuckets: symbols ? SymbolBigramBuckets : 0);
    }

    /// <summary>
    /// Hashed byte-bigram buckets Auto gives data whose bytes are symbols (no record stride, not a smooth signal). On
    /// training splits only (group validation / a held-out share of the training files, hidden 256, 4 layers, bf16,
    /// docs/evaluation.md): text-lang 96.2 → 99.0 % validation and 97.3 → 100 % held out; filetypes 86.6 → 93.8 % and
    /// 89.4 → 94.4 %. On images (digits-bmp, row patches) they cost 57.5 → 38.5 % held out in the same 8 epochs, and
    /// on 8-bit audio, so raster and signal data go without.
    /// </summary>
    public const int SymbolBigramBuckets = 8192;

    /// <summary>
    /// Most patches Auto gives a window of <see cref="IsSmoothSignal"/> data. On spoken-digits-wav (8 KiB clips, validation
    /// on unseen voices, docs/evaluation.md) 128 patches of 64 B learned as much per epoch as 256 of 32 B at half the
    /// cost: 12 epochs of 64 B (10.4 min) reached 61.3 % on held-out voices against 58.8 % for 8 epochs of 32 B (12.7 min).
    /// On filetypes, whose bytes are not a signal, 64-byte patches lost to 32 (validation 88.1 % against 92.2 %).
    /// </summary>
    public const int SmoothSignalMaxPatches = 128;

    /// <summary>
    /// Whether most sample files read as a sampled signal: neighbouring bytes differ by less than
    /// <see cref="SmoothSignalStep"/> on average (8-bit PCM audio about 2; text, images and binaries 20 to 85). In such
    /// data one byte adds little to its neighbours, so a patch can hold more of them.
    /// </summary>
    public static bool IsSmoothSignal(IReadOnlyList<ReadOnlyMemory<byte>> sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        int used = 0, smooth = 0;
        foreach (var file in sample)
        {
            var bytes = file.Span[..Math.Min(file.Length, MaxWindow)];
            if (bytes.Length < 64) continue;
            long steps = 0;
            for (int i = 1; i < bytes.Length; i++) steps += Math.Abs(bytes[i] - bytes[i - 1]);
            used++;
            if (steps < SmoothSignalStep * (bytes.Length - 1)) smooth++;
        }
        return used >= 4 && smooth * 2 > used;
    }

    /// <summary>Mean byte-to-byte step under which <see cref="IsSmoothSignal"/> counts a file as a signal.</summary>
    public const double SmoothSignalStep = 8;

    /// <summary>Shortest and longest record stride <see cref="DetectRecordStride"/> reports (and a patch may have).</summary>
    public const int MinStride = 8, MaxStride = 64;

    /// <summary>
    /// The byte stride of fixed-size records that most of <paramref name="sample"/> share (the row length of raw
    /// images, the record size of binary tables), or null. Per file: the lag in [<see cref="MinStride"/>,
    /// <see cref="MaxStride"/>] whose byte-value autocorrelation stands out most above its two neighbours (by at least
    /// 0.1, at a correlation of at least 0.2); a stride is reported when at least half of the files of 256 bytes or
    /// more agree on it. Making it the patch size lines each patch up with one record, so every byte keeps its place
    /// in the patch. Text, compressed data and audio have no such stride.
    /// </summary>
    public static int? DetectRecordStride(IReadOnlyList<ReadOnlyMemory<byte>> sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var votes = new int[MaxStride + 1];
        int used = 0;
        foreach (var file in sample)
        {
            var x = file.Span;
            int n = Math.Min(x.Length, 1 << 16);
            if (n < 256) continue;
            used++;
            double mean = 0, variance = 0;
            for (int i = 0; i < n; i++) mean += x[i];
            mean /= n;
            for (int i = 0; i < n; i++) variance += (x[i] - mean) * (x[i] - mean);
            if (variance == 0) continue;
            var r = new double[MaxStride + 2];
            for (int lag = MinStride - 1; lag <= MaxStride + 1; lag++)
            {
                double sum = 0;
                for (int i = 0; i + lag < n; i++) sum += (x[i] - mean) * (x[i + lag] - mean);
                r[lag] = sum / (n - lag) / (variance / n);
            }
            int best = 0;
            double prominence = 0.1;
            for (int lag = MinStride; lag <= MaxStride; lag++)
            {
                double p = r[lag] - Math.Max(r[lag - 1], r[lag + 1]);
                if (p > prominence && r[lag] >= 0.2) (best, prominence) = (lag, p);
            }
            votes[best]++;
        }
        int stride = Array.IndexOf(votes, votes.Skip(1).DefaultIfEmpty(0).Max(), 1);
        return used >= 4 && stride > 0 && votes[stride] * 2 >= used ? stride : null;
    }

    /// <summary>The power-of-two window in [<see cref="MinWindow"/>, <see cref="MaxWindow"/>] that holds the 90th-percentile file (plus the extension and end patches).</summary>
    public static int CoveringWindow(IReadOnlyList<long> fileLengths)
    {
        var sorted = fileLengths.OrderBy(x => x).ToArray();
        long p90 = sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(0.9 * sorted.Length))];
        long need = p90 + 64; // extension patch + end patch at 32-byte patches (wider ones cut a few bytes of the longest, head + tail)
        int window = MinWindow;
        while (window < need && window < MaxWindow) window *= 2;
        return window;
    }

    /// <summary>
    /// The recipe for <paramref name="fileLengths"/> (one per training file), <paramref name="classes"/> classes and a
    /// training <paramref name="budget"/>, using <paramref name="throughput"/> (measured with <see cref="MeasureThroughput"/>;
    /// <see cref="DefaultThroughput"/> when null) to plan epochs. Each phase also gets its share of the budget as
    /// <see cref="BGptTrainingOptions.MaxTrainingTime"/>, so a wrong estimate costs epochs, not time. When the covering
    /// window would leave fewer than 3 fine-tuning epochs, the window halves (head + tail keep both ends of each
    /// file) down to 512 bytes, but only while that cuts few files or files are longer than any window.
    /// <paramref name="minPretrainEpochs"/> is the fewest pretraining epochs worth <see cref="PretrainShare"/> of the
    /// budget (default <see cref="MinPretrainEpochs"/>); 0 always pretrains.
    /// </summary>
    public static BGptRecipe Create(IReadOnlyList<long> fileLengths, int classes, TimeSpan budget, BGptThroughput? throughput = null,
        int? windowBytes = null, int seed = 0, BGptDataTraits? traits = null, double minPretrainEpochs = MinPretrainEpochs)
    {
        var precision = throughput?.Precision ?? TrainingPrecision.Float32;
        var config = ChooseConfig(fileLengths, classes, windowBytes, traits, precision);
        if (budget <= TimeSpan.Zero) throw new ArgumentException($"The budget must be positive (got {budget}).", nameof(budget));
        var speed = throughput ?? DefaultThroughput;
        int window = config.MaxTokens;
        var why = new List<string>();
        long median = Median(fileLengths);
        while (true)
        {
            var (pre, fine) = Epochs(fileLengths, window, budget, speed, minPretrainEpochs);
            bool cutsFew = median + 2 * config.PatchSize <= window / 2;
            bool alreadyCut = CoveringWindow(fileLengths) >= MaxWindow && median + 32 > MaxWindow / 2 && window > 2048;
            if (fine >= 3 || !(cutsFew || alreadyCut) || window / 2 < MinWindow || windowBytes is not null)
                return Build(ChooseConfig(fileLengths, classes, window, traits, precision), fileLengths, pre, fine, budget, speed, seed, why, minPretrainEpochs,
                    traits?.SmoothSignal == true);
            why.Add($"window {window} B leaves {fine:F1} fine-tuning epochs; halved");
            window /= 2;
        }
    }

    /// <summary>Share of the budget the epochs may use; the rest covers model set-up, the ONNX export and estimate noise.</summary>
    public const double UsableShare = 0.9;

    /// <summary>
    /// Pretraining and fine-tuning epochs that fit <paramref name="budget"/> for a window at <paramref name="speed"/>:
    /// <see cref="PretrainShare"/> of the usable time pretrains, the rest fine-tunes (all of it when pretraining gets
    /// fewer than <paramref name="minPretrainEpochs"/>).
    /// </summary>
    public static (double Pretrain, double FineTune) Epochs(IReadOnlyList<long> fileLengths, int windowBytes, TimeSpan budget, BGptThroughput speed,
        double minPretrainEpochs = MinPretrainEpochs)
    {
        double tokensPerEpoch = TokensPerEpoch(fileLengths, windowBytes);
        double seconds = budget.TotalSeconds * UsableShare;
        double pre = PretrainShare * seconds * speed.PretrainTokensPerSecond / tokensPerEpoch;
        if (pre < minPretrainEpochs || pre <= 0) return (0, seconds * speed.FineTuneTokensPerSecond / tokensPerEpoch);
        return (pre, (1 - PretrainShare) * seconds * speed.FineTuneTokensPerSecond / tokensPerEpoch);
    }

    private static double TokensPerEpoch(IReadOnlyList<long> fileLengths, int windowBytes) =>
        fileLengths.Sum(l => (double)Math.Min(l + 32, windowBytes));

    /// <summary>Each phase's epoch count is this many times the estimate (its time budget stops it first).</summary>
    public const double EpochBound = 3;

    /// <summary>
    /// Fewest estimated pretraining epochs worth their share of the budget; with fewer, fine-tuning gets all of it. The
    /// estimate runs high (validation and set-up are not in the probe) and a phase keeps only whole epochs that fit, so
    /// 3 estimated epochs are about 2 run: spoken-digits-wav planned 2.5 and ran 1 (173 s an epoch against 126 s
    /// estimated), no better than fine-tuning alone. Fewer than 2 run epochs cost more fine-tuning than they give
    /// (docs/evaluation.md).
    /// </summary>
    public const double MinPretrainEpochs = 3;

    /// <summary>
    /// Fine-tuning's <see cref="BGptTrainingOptions.ByteShift"/>: each file moves by up to 2 bytes against the patch grid
    /// every epoch. On digits-bmp validation (from scratch, 16 epochs) it lifted accuracy from 78.7 % to 87.7 % and
    /// stopped the memorising (validation loss 0.47 against 1.07); docs/evaluation.md has the runs on every dataset.
    /// </summary>
    public const int FineTuneByteShift = 2;

    /// <summary>
    /// Fine-tuning's <see cref="ClassifierTrainingOptions.BestEpochTolerance"/>: the latest epoch within one standard error
    /// of the best validation accuracy is kept. Auto plans up to 60 epochs over a validation share of 100–300 files, where
    /// the first maximum is often a tie or a one-file blip mid-schedule. On 19 runs over the training splits of text-lang,
    /// spoken-digits-wav and filetypes (docs/evaluation.md) the kept epoch scored 0.5 points higher on unseen groups on
    /// average (9 higher, 4 lower, 6 the same; −2.7 to +3.9): a text-lang run that kept epoch 15 of 39 (93.3 %) under the
    /// first-maximum rule now keeps its last (95.3 %).
    /// </summary>
    public const double FineTuneBestEpochTolerance = 1;

    /// <summary>
    /// Predicted patches per batch whose bytes the byte-level decoder trains on during pretraining
    /// (<see cref="PretrainingOptions.PatchSamplingBatchSize"/>): about one in eight, so the byte-level decoder costs
    /// about what the patch-level decoder does.
    /// </summary>
    public static int PatchSamples(BGptConfig config, int batchSize) => Math.Max(32, batchSize * config.PatchLength / 8);

    /// <summary>
    /// <see cref="BGptTrainingOptions.ByteValueSmoothing"/> of the from-scratch model (pretraining's, or fine-tuning's
    /// without it) for <see cref="BGptDataTraits.SmoothSignal"/> data. On spoken-digits-wav's training split (12 epochs,
    /// two seeds) a width of 3 byte values beat the i.i.d. start by 3.7 and 8.8 points of group validation and 3.9 and
    /// 5.2 on unseen voices; 8 gained less, 24 and a start linear in the byte value lost (docs/evaluation.md). Other data
    /// keeps the original's start: bytes of text, images and binaries are codes, not amplitudes.
    /// </summary>
    public const double SmoothSignalByteValueSmoothing = 3;

    /// <summary>
    /// Fine-tuning's <see cref="BGptTrainingOptions.Resampling"/> for <see cref="BGptDataTraits.SmoothSignal"/> data: every
    /// epoch each training file is resampled by a factor between 1 / 1.15 and 1.15. On spoken-digits-wav's training split
    /// (voices held out, hidden 128 / 3 layers, 20 epochs from scratch, two seeds) it lifted the held-out voices from 57.7 and
    /// 57.7 % to 60.6 and 63.1 % and the group validation loss from 1.52 and 1.37 to 1.01 and 0.94; 0.3 gained less
    /// (58.5 %) (docs/evaluation.md). Bytes that are codes, not quantities, are never resampled.
    /// </summary>
    public const double SmoothSignalResampling = 0.15;

    private static BGptRecipe Build(BGptConfig config, IReadOnlyList<long> lengths, double pre, double fine, TimeSpan budget,
        BGptThroughput speed, int seed, List<string> why, double minPretrainEpochs, bool smoothSignal)
    {
        double byteValueSmoothing = smoothSignal ? SmoothSignalByteValueSmoothing : 0;
        int window = config.MaxTokens;
        bool longFiles = lengths.Count(l => l + 32 > window) > lengths.Count / 20; // more than 5% cut
        int batch = lengths.Count >= 800 ? 16 : 8;
        // Epochs are upper bounds: the time budgets stop each phase (its epochs are re-planned to what fits). The bound
        // is generous because a few probe steps misjudge long runs (digits-bmp: 129k/230k tokens/s probed against
        // ~105k/168k run, validation and dropout included; before the probe was warmed, 62k probed against ~120k),
        // and a phase that hits its epoch bound leaves budget unused.
        int preEpochs = pre > 0 ? (int)Math.Clamp(Math.Ceiling(pre * EpochBound), 2, 60) : 0;
        int fineEpochs = (int)Math.Clamp(Math.Ceiling(fine * EpochBound), 3, 60);
        double usable = budget.TotalSeconds * UsableShare;
        if (preEpochs == 0) why.Add($"budget leaves {PretrainShare * usable * speed.PretrainTokensPerSecond / TokensPerEpoch(lengths, window):F2} pretraining epochs (< {minPretrainEpochs}): pretraining skipped, fine-tuning gets all the time");
        var pretraining = preEpochs == 0 ? null : new BGptPretrainingOptions
        {
            Config = config, Epochs = preEpochs, BatchSize = batch, LearningRate = 2e-3, WarmupFraction = 0.05,
            TrainTruncation = TruncationStrategy.RandomCrop, EvalTruncation = TruncationStrategy.HeadTail,
            ValidationFraction = 0.02, EarlyStoppingPatience = 0, Seed = seed, PatchSamplingBatchSize = PatchSamples(config, batch),
            Precision = speed.Precision, ByteValueSmoothing = byteValueSmoothing,
            MaxTrainingTime = TimeSpan.FromSeconds(PretrainShare * usable),
        };
        var classifier = new BGptClassifierOptions
        {
            Config = config, Epochs = fineEpochs, BatchSize = batch, LearningRate = 5e-4, WarmupFraction = 0.1,
            Dropout = 0.2, WeightDecay = 0.1, ByteShift = FineTuneByteShift, Resampling = smoothSignal ? SmoothSignalResampling : 0,
            TrainTruncation = longFiles ? TruncationStrategy.HeadTail : TruncationStrategy.RandomCrop,
            EvalTruncation = TruncationStrategy.HeadTail, ValidationFraction = 0.1, EarlyStoppingPatience = 0, RestoreBestEpoch = true,
            BestEpochTolerance = FineTuneBestEpochTolerance,
            Seed = seed, MaxTrainingTime = TimeSpan.FromSeconds((pretraining is null ? 1 : 1 - PretrainShare) * usable), Precision = speed.Precision,
            ByteValueSmoothing = byteValueSmoothing, // a no-op after pretraining: its weights are the start
        };
        if (smoothSignal) why.Add($"smooth signal: the patch embedding starts blurred over {byteValueSmoothing} byte values, fine-tuning resamples each file by up to {(int)Math.Round(SmoothSignalResampling * 100)}%");
        if (config.BigramBuckets > 0) why.Add($"bytes read as symbols (no record stride, not a signal): {config.BigramBuckets} hashed byte-bigram buckets");
        why.Insert(0, $"{lengths.Count} files, window {window} B ({config.PatchLength} patches of {config.PatchSize} B), hidden {config.HiddenSize}, " +
            $"{config.PatchNumLayers}+{config.ByteNumLayers} layers; budget {budget.TotalMinutes:F1} min at {speed.PretrainTokensPerSecond:F0}/{speed.FineTuneTokensPerSecond:F0} tokens/s " +
            $"({(speed.Precision == TrainingPrecision.BFloat16Mixed ? "bf16 mixed precision, measured faster" : "fp32")}) " +
            $"-> about {pre:F1} pretraining + {fine:F1} fine-tuning epochs (time-bounded); {(longFiles ? "head+tail windows for long files" : "files fit the window")}");
        return new BGptRecipe(config, pretraining, classifier, window, string.Join("; ", why));
    }

    /// <summary>
    /// Fine-tuning's time limit once pretraining has run for <paramref name="pretrainingTook"/>: the recipe's share plus
    /// what pretraining left of its own (a last epoch that would not have fit), or minus what it overran, so that the two
    /// phases together keep to the budget; never below half the recipe's share. Without pretraining in the recipe, its
    /// fine-tuning limit as it is.
    /// </summary>
    public static TimeSpan? FineTuningTime(BGptRecipe recipe, TimeSpan pretrainingTook)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        if (recipe.Classifier.MaxTrainingTime is not { } planned || recipe.Pretraining?.MaxTrainingTime is not { } pretrainPlanned) return recipe.Classifier.MaxTrainingTime;
        var left = planned + (pretrainPlanned - pretrainingTook);
        return left > planned / 2 ? left : planned / 2;
    }

    /// <summary>bf16 mixed precision is chosen when its measured fine-tuning speed is at least this many times fp32's.</summary>
    public const double BFloat16MinSpeedup = 1.15;

    /// <summary>
    /// Times a few optimizer steps of pretraining and of fine-tuning <paramref name="config"/> on <paramref name="sample"/>
    /// (a few dozen training files; the first step is not counted; each run twice and the faster kept, since other work
    /// on the machine only slows a run) and returns tokens per second. With
    /// <paramref name="tryBFloat16"/>, fine-tuning is timed in fp32 and in bf16 mixed precision, and the faster by at
    /// least <see cref="BFloat16MinSpeedup"/> (bf16 on CPUs with native bf16 arithmetic) becomes the precision of the
    /// result, which pretraining is then timed in; bf16 is not timed where <see cref="BFloat16Speed.IsFast"/> is false.
    /// </summary>
    public static BGptThroughput MeasureThroughput(BGptConfig config, IReadOnlyList<ReadOnlyMemory<byte>> sample, int classes,
        int batchSize = 16, int steps = 4, int? threads = null, bool tryBFloat16 = true) =>
        Measure(config, sample, classes, batchSize, steps, threads, tryBFloat16 ? null : TrainingPrecision.Float32);

    /// <summary>
    /// The Auto recipe's planning, as <c>Trainers.BGptAuto</c> runs it: the configuration for the data, its speed in fp32
    /// and bf16 mixed precision, and, when bf16 is the faster, the larger bf16 configuration and its speed. The data's
    /// traits (<see cref="BGptDataTraits.Detect"/>) are read from <paramref name="sample"/> unless given.
    /// </summary>
    public static (BGptConfig Config, BGptThroughput Speed, BGptDataTraits Traits) Plan(IReadOnlyList<long> fileLengths, int classes,
        IReadOnlyList<ReadOnlyMemory<byte>> sample, int? windowBytes = null, int? threads = null, BGptDataTraits? traits = null)
    {
        ArgumentNullException.ThrowIfNull(sample);
        traits ??= BGptDataTraits.Detect(sample);
        var config = ChooseConfig(fileLengths, classes, windowBytes, traits);
        var speed = Measure(config, sample, classes, 16, 4, threads, null);
        if (speed.Precision != TrainingPrecision.BFloat16Mixed) return (config, speed, traits);
        config = ChooseConfig(fileLengths, classes, windowBytes, traits, TrainingPrecision.BFloat16Mixed);
        return (config, Measure(config, sample, classes, 16, 4, threads, TrainingPrecision.BFloat16Mixed), traits);
    }

    private static BGptThroughput Measure(BGptConfig config, IReadOnlyList<ReadOnlyMemory<byte>> sample, int classes,
        int batchSize, int steps, int? threads, TrainingPrecision? only)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (sample.Count == 0) throw new ArgumentException("No sample files.", nameof(sample));
        // Held across the probe's runs: each trainer's own hold ends with a trim, which would send the timed run's few
        // steps back to faulting in all their memory (a long run pays that once).
        using var heap = Runtime.NativeMemory.RetainFreedMemory();
        var files = Enumerable.Range(0, batchSize * (steps + 1)).Select(i => sample[i % sample.Count]).ToArray();
        var examples = files.Select((f, i) => new ByteExample(f, ReadOnlyMemory<byte>.Empty, i % classes)).ToList();
        double tokensPerBatch = files.Average(f => (double)Math.Min(f.Length + config.PatchSize, config.MaxTokens)) * batchSize;

        // Two runs over the same batches (same seed, so the same shapes), each timed over its steps after the first, from
        // one step's end to the last's; the faster counts. Kernels are set up once per shape (oneDNN compiles its bf16
        // ones), and on files of mixed lengths every batch is a new shape: on filetypes an unwarmed probe read bf16 at
        // 1.24-1.34x fp32, a warmed one 1.43-1.56x, nearer the 1.65x of long runs. Other work on the machine only ever
        // slows a run: one slowed run made Auto train digits-bmp's smaller fp32 model (bf16 read under 1.15x fp32; 2x in
        // the runs before). What Train does after its last step (result, clean-up) is not a per-epoch cost either.
        double Time(Action<IProgress<TrainingProgress>> train) => Math.Max(Timed(train), Timed(train));
        double Timed(Action<IProgress<TrainingProgress>> train)
        {
            var clock = Stopwatch.StartNew();
            double first = 0, last = 0;
            int seen = 0;
            train(new SyncProgress(_ => { last = clock.Elapsed.TotalSeconds; if (seen++ == 0) first = last; }));
            return Math.Max(1, seen - 1) * tokensPerBatch / Math.Max(1e-3, last - first);
        }

        double FineTune(TrainingPrecision precision) => Time(p => ClassifierTrainer.Train(examples, null, classes, config, null, new ClassifierTrainingOptions
        {
            Epochs = 1, BatchSize = batchSize, ValidationFraction = 0, EarlyStoppingPatience = 0, RestoreBestEpoch = false,
            TrainTruncation = TruncationStrategy.HeadTail, Threads = threads, Precision = precision,
        }, p).Model.Dispose());
        var chosen = only ?? TrainingPrecision.Float32;
        double fine = FineTune(chosen);
        // Where bf16 matrix products are slow (no AVX-512: libtorch's scalar fallback), timing bf16 fine-tuning took 25-45 s
        // of the budget (bf16 at 0.09-0.11x fp32 on an AVX2-only EPYC) to learn what BFloat16Speed knows in a fraction of a second.
        if (only is null && BFloat16Speed.IsFast)
        {
            double bf16 = FineTune(TrainingPrecision.BFloat16Mixed);
            if (bf16 < BFloat16MinSpeedup * fine) // bf16 lost: once more each, each one's faster kept
                (fine, bf16) = (Math.Max(fine, FineTune(chosen)), Math.Max(bf16, FineTune(TrainingPrecision.BFloat16Mixed)));
            if (bf16 >= BFloat16MinSpeedup * fine) (fine, chosen) = (bf16, TrainingPrecision.BFloat16Mixed);
        }
        double pre = Time(p => Pretrainer.Train(examples, null, config, null, new PretrainingOptions
        {
            Epochs = 1, BatchSize = batchSize, ValidationFraction = 0, EarlyStoppingPatience = 0, RestoreBestEpoch = false,
            TrainTruncation = TruncationStrategy.HeadTail, Threads = threads, PatchSamplingBatchSize = PatchSamples(config, batchSize),
            Precision = chosen,
        }, p).Model.Dispose());
        return new BGptThroughput(pre, fine, chosen);
    }

    private static long Median(IReadOnlyList<long> lengths) => lengths.OrderBy(x => x).ElementAt(lengths.Count / 2);

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
