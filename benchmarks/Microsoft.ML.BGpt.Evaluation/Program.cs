// bGPT accuracy evaluation on a dataset folder laid out like shared/datasets (train.csv, test.csv: path,label[,group]).
//   dotnet run -c Release --project benchmarks/Microsoft.ML.BGpt.Evaluation -- <folder> [--recipe auto|tuned|both]
//       [--out docs/evaluation] [--budget-minutes 15] [--limit-train N] [--ablations] [--threads N] [--validation groups|random]
//       [--bigram-buckets N]
// Trains on the train split only (validation for early stopping is split off it), tests once on the test split, and
// writes <out>/<dataset>.md with confusion-matrix PNGs. See docs/evaluation.md.
using Microsoft.ML;
using Microsoft.ML.BGpt;
using Microsoft.ML.BGpt.Evaluation;

var a = EvalArgs.Parse(args);
var data = Dataset.Load(a.Folder, a.LimitTrain);
Console.WriteLine($"{data.Name}: {data.Train.Count} training files{(data.Train.Count < data.FullTrainCount ? $" (of {data.FullTrainCount}, --limit-train)" : "")}, " +
    $"{data.Test.Count} test files, {data.Classes.Count} classes; {data.LengthSummary()}.");
Directory.CreateDirectory(a.Out);
var work = Path.Combine(Path.GetTempPath(), "bgpt-eval", data.Name);
Directory.CreateDirectory(work);

var ml = new MLContext(seed: 0);
var prep = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadFileBytes("Bytes", "Path", "FileExtension"))
    .Append(ml.Transforms.DropColumns("FileExtension")) // models see bytes only, never names
    .Fit(ml.Data.LoadFromEnumerable(data.Train));
var train = ml.Data.Cache(prep.Transform(ml.Data.LoadFromEnumerable(data.Train)));
var test = ml.Data.Cache(prep.Transform(ml.Data.LoadFromEnumerable(data.Test)));
var results = new List<RunResult>();
var ablations = new List<RunResult>();
var budget = TimeSpan.FromMinutes(a.BudgetMinutes);

// 1. Baseline: byte statistics into LightGbm.
{
    var phases = new List<PhaseResult>();
    var model = PhaseMeter.Run("train", phases, () => ByteStatsBaseline.Pipeline(ml).Fit(train));
    var m = PhaseMeter.Run("predict", phases, () => ClassMetrics.FromScored(model.Transform(test)));
    Console.WriteLine($"  baseline: accuracy {m.Accuracy:P2}, macro-F1 {m.MacroF1:F4}");
    results.Add(new RunResult("Baseline: byte stats + LightGbm",
        $"byte histogram + {ByteStatsBaseline.Buckets} hashed 2/3-gram buckets + log length + printable share -> LightGbm (200 iterations, 31 leaves)", m, phases));
}

// 2. bGPT recipes: Auto (reads the data and the budget) and tuned (window by hand); the throughput of the chosen
//    configuration is measured first and counts toward the training time.
var sample = data.Train.Where((_, i) => i % Math.Max(1, data.Train.Count / 48) == 0).Take(48)
    .Select(r => (ReadOnlyMemory<byte>)FileWindowReader.Read(r.Path)).ToList();
var traits = BGptDataTraits.Detect(sample);
Console.WriteLine($"  {traits}");
var measured = new Dictionary<int, (BGptThroughput Speed, PhaseResult Phase)>();
(BGptRecipe Recipe, List<PhaseResult> Phases) Plan(int? window, bool alwaysPretrain = false)
{
    var config = BGptAutoRecipe.ChooseConfig(data.TrainLengths, data.Classes.Count, window, traits);
    var phases = new List<PhaseResult>();
    if (!measured.TryGetValue(config.MaxTokens, out var m))
    {
        var log = new List<PhaseResult>();
        var (_, speed, _) = PhaseMeter.Run("measure", log, () => BGptAutoRecipe.Plan(data.TrainLengths, data.Classes.Count, sample, window, a.Threads, traits));
        Console.WriteLine($"  throughput at {config.MaxTokens} B ({speed.Precision}): pretraining {speed.PretrainTokensPerSecond:F0}, fine-tuning {speed.FineTuneTokensPerSecond:F0} tokens/s");
        measured[config.MaxTokens] = m = (speed, log[0]);
    }
    phases.Add(m.Phase);
    var recipe = BGptAutoRecipe.Create(data.TrainLengths, data.Classes.Count, budget - m.Phase.Wall, m.Speed, window, traits: traits,
        minPretrainEpochs: alwaysPretrain ? 0 : BGptAutoRecipe.MinPretrainEpochs);
    if (a.BigramBuckets is { } k && k != recipe.Config.BigramBuckets)
    {
        // An experiment's override: both phases train the same architecture, so the checkpoint fits the classifier.
        var c = recipe.Config with { BigramBuckets = k };
        if (recipe.Pretraining is { } p) p.Config = c;
        recipe.Classifier.Config = c;
        recipe = recipe with { Config = c, Rationale = recipe.Rationale + $"; --bigram-buckets {k} (Auto's choice overridden)" };
    }
    Console.WriteLine($"  recipe: {recipe.Rationale}");
    return (recipe, phases);
}
RunResult Train(string name, BGptRecipe recipe, List<PhaseResult> extra, string? checkpoint = null)
{
    Console.WriteLine($"{name}:");
    // The CSV's groups (speakers, packages, sources) only shape the validation split: whole groups are held out.
    var r = RecipeRunner.Run(ml, name, recipe, train, test, work, a.Threads, checkpoint, a.GroupValidation && data.HasGroups ? nameof(EvalRow.Group) : null);
    r.Phases.InsertRange(0, extra);
    return r;
}

BGptRecipe? main = null;
string mainName = "";
if (a.Recipe is "auto" or "both")
{
    var (recipe, phases) = Plan(null);
    results.Add(Train("bGPT Auto", recipe, phases));
    (main, mainName) = (recipe, "bGPT Auto");
}
if (a.Recipe is "tuned" or "both")
{
    var tuned = TunedRecipes.Window(data.Name);
    bool alwaysPretrain = TunedRecipes.AlwaysPretrain(data.Name);
    var (recipe, phases) = Plan(tuned?.Window, alwaysPretrain);
    var r = Train("bGPT tuned", recipe, phases);
    results.Add(r with { Description = (tuned is null ? "no per-dataset recipe: Auto. " : tuned.Value.Why + (alwaysPretrain ? "; always pretrains" : "") + ". ") + r.Description });
    (main, mainName) = (recipe, "bGPT tuned");
}

// 3. Ablations around the last recipe, each with the same time budget: the recipe itself (pretraining + fine-tuning);
//    fine-tuning only (the whole budget); the recipe's pretrained LM as a frozen featurizer (head+tail and head windows)
//    into LightGbm.
if (a.Ablations && main is not null)
{
    var mainRun = results.Last();
    ablations.Add(mainRun with { Name = $"{mainName}: {(main.Pretraining is null ? "fine-tuning only (the budget skipped pretraining)" : "pretraining + fine-tuning")}" });
    if (main.Pretraining is not null)
    {
        var both = main.Pretraining.MaxTrainingTime!.Value + main.Classifier.MaxTrainingTime!.Value;
        var noPre = main with
        {
            Pretraining = null,
            Classifier = Copy(main.Classifier, (int)Math.Ceiling(main.Classifier.Epochs * both / main.Classifier.MaxTrainingTime!.Value), both),
        };
        ablations.Add(Train("fine-tuning only", noPre, new()) with
        {
            Name = "fine-tuning only, same budget", Description = "same configuration, random initialisation, the pretraining time given to fine-tuning",
        });
        var checkpoint = Path.Combine(work, $"{RecipeRunner.Slug(mainName)}-lm.pth");
        foreach (var trunc in new[] { TruncationStrategy.HeadTail, TruncationStrategy.Head })
        {
            var phases = new List<PhaseResult>();
            var pipeline = ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions
            {
                CheckpointPath = checkpoint, OutputColumnName = "BGptFeatures", ExtensionColumnName = RecipeRunner.ExtensionColumn,
                Truncation = trunc, Threads = a.Threads,
            }).AppendCacheCheckpoint(ml).Append(ByteStatsBaseline.LightGbmOn(ml, "BGptFeatures"));
            var model = PhaseMeter.Run("train", phases, () => pipeline.Fit(train));
            var m = PhaseMeter.Run("predict", phases, () => ClassMetrics.FromScored(model.Transform(test)));
            Console.WriteLine($"  featurizer {trunc} + LightGbm: accuracy {m.Accuracy:P2}");
            ablations.Add(new RunResult($"pretrained FeaturizeBGpt ({trunc}) + LightGbm",
                $"{mainName}'s pretrained LM frozen, mean patch features ({trunc} window), LightGbm as the baseline (train time excludes pretraining)", m, phases));
        }
    }
}

ReportWriter.Write(a, data, results, ablations);
return;

// Every setting of the recipe's fine-tuning (a hand-picked list missed ByteShift, Precision and later options), with a
// new epoch bound and time budget.
static BGptClassifierOptions Copy(BGptClassifierOptions o, int epochs, TimeSpan budget)
{
    var copy = new BGptClassifierOptions();
    foreach (var p in typeof(BGptClassifierOptions).GetProperties().Where(p => p.CanRead && p.CanWrite))
        p.SetValue(copy, p.GetValue(o));
    copy.Epochs = epochs;
    copy.MaxTrainingTime = budget;
    return copy;
}
