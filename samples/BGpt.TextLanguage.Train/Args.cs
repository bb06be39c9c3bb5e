using System.Globalization;
using Microsoft.ML.BGpt;

/// <summary>Command-line settings of the sample, with defaults that run in a few minutes on 2 cores.</summary>
internal sealed record Args(string Data, string Out, int TrainPerClass, double Minutes)
{
    public static Args Parse(string[] args)
    {
        string Get(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        int Int(string name, int fallback) => int.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        var root = FindRepositoryRoot();
        return new Args(
            Get("--data", Path.Combine(root, "samples", "data", "text-lang")),
            Get("--out", Path.Combine(root, "samples", "out")),
            Int("--train-per-class", 0), double.Parse(Get("--minutes", "5"), CultureInfo.InvariantCulture));
    }

    /// <summary>Up to <paramref name="perClass"/> files of each label, in the manifest's order (0 = all).</summary>
    public static IReadOnlyList<LabeledFile> Balanced(IReadOnlyList<LabeledFile> rows, int perClass) =>
        perClass <= 0 ? rows : rows.GroupBy(r => r.Label).SelectMany(g => g.Take(perClass)).ToList();

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.BGpt.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
