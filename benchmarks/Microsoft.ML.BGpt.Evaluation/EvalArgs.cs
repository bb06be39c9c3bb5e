namespace Microsoft.ML.BGpt.Evaluation;

/// <summary>Command line: &lt;folder&gt; [--recipe auto|tuned|both] [--out docs/evaluation] [--budget-minutes N] [--limit-train N] [--ablations] [--threads N] [--validation groups|random] [--bigram-buckets N].</summary>
internal sealed record EvalArgs(string Folder, string Recipe, string Out, double BudgetMinutes, int LimitTrain, bool Ablations, int? Threads, bool GroupValidation = true,
    int? BigramBuckets = null)
{
    public static EvalArgs Parse(string[] args)
    {
        string? folder = null;
        string recipe = "both", output = Path.Combine("docs", "evaluation");
        double budget = 15;
        int limit = 0;
        bool ablations = false;
        int? threads = null;
        bool groups = true;
        int? bigrams = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--recipe": recipe = Next().ToLowerInvariant(); break;
                case "--out": output = Next(); break;
                case "--budget-minutes": budget = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--limit-train": limit = int.Parse(Next()); break;
                case "--ablations": ablations = true; break;
                case "--threads": threads = int.Parse(Next()); break;
                case "--validation":
                    groups = Next() switch { "groups" => true, "random" => false, var v => throw new ArgumentException($"--validation must be groups or random (got {v}).") };
                    break;
                case "--bigram-buckets": bigrams = int.Parse(Next()); break; // overrides Auto's choice, for experiments
                default:
                    if (args[i].StartsWith("--")) throw new ArgumentException($"Unknown option {args[i]}.");
                    folder = args[i];
                    break;
            }
        }
        if (folder is null) throw new ArgumentException("Usage: <folder with train.csv/test.csv> [--recipe auto|tuned|both] [--out dir] [--budget-minutes N] [--limit-train N] [--ablations] [--threads N] [--validation groups|random] [--bigram-buckets N]");
        if (recipe is not ("auto" or "tuned" or "both")) throw new ArgumentException($"--recipe must be auto, tuned or both (got {recipe}).");
        if (bigrams < 0) throw new ArgumentException($"--bigram-buckets must be 0 or more (got {bigrams}).");
        return new EvalArgs(folder, recipe, output, budget, limit, ablations, threads, groups, bigrams);
    }
}
