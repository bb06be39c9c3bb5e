namespace Microsoft.ML.BGpt.Evaluation;

/// <summary>
/// One file of a split as the pipelines see it: the path (read by LoadFileBytes), the label, and an always-empty
/// extension column, so no model ever sees a file name. The CSV's group (speaker, package, source) is carried for
/// training only: the trainers' SamplingKeyColumnName holds out whole groups for validation; no model reads it.
/// </summary>
public sealed class EvalRow
{
    public string Path { get; set; } = "";
    public string Label { get; set; } = "";
    public string Group { get; set; } = "";
    public byte[] NoExtension { get; set; } = Array.Empty<byte>();
}

/// <summary>A dataset folder laid out like shared/datasets: train.csv and test.csv of path,label[,group].</summary>
internal sealed record Dataset(string Name, string Folder, IReadOnlyList<EvalRow> Train, IReadOnlyList<EvalRow> Test,
    IReadOnlyList<string> Classes, IReadOnlyList<long> TrainLengths, int FullTrainCount)
{
    public static Dataset Load(string folder, int limitTrain)
    {
        folder = System.IO.Path.GetFullPath(folder);
        var name = System.IO.Path.GetFileName(folder.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        static List<EvalRow> Rows(string csv) =>
            BGptFiles.ListCsv(csv).Select(r => new EvalRow { Path = r.Path, Label = r.Label, Group = r.Group }).ToList();
        var train = Rows(System.IO.Path.Combine(folder, "train.csv"));
        var test = Rows(System.IO.Path.Combine(folder, "test.csv"));
        int full = train.Count;
        if (limitTrain > 0 && limitTrain < train.Count) train = Balanced(train, limitTrain);
        var classes = train.Select(r => r.Label).Distinct().OrderBy(x => x, StringComparer.Ordinal).ToList();
        var lengths = train.Select(r => new FileInfo(r.Path).Length).ToList();
        return new Dataset(name, folder, train, test, classes, lengths, full);
    }

    /// <summary>A class-balanced subset of about <paramref name="count"/> files, in a fixed order (by path) per class.</summary>
    private static List<EvalRow> Balanced(List<EvalRow> rows, int count)
    {
        var byClass = rows.GroupBy(r => r.Label).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new Queue<EvalRow>(g.OrderBy(r => r.Path, StringComparer.Ordinal))).ToList();
        var picked = new List<EvalRow>();
        while (picked.Count < count && byClass.Any(q => q.Count > 0))
            foreach (var q in byClass)
                if (q.Count > 0 && picked.Count < count) picked.Add(q.Dequeue());
        return picked.OrderBy(r => r.Path, StringComparer.Ordinal).ToList();
    }

    /// <summary>The training rows name their groups (a third CSV column).</summary>
    public bool HasGroups => Train.Any(r => r.Group.Length > 0);

    public string LengthSummary()
    {
        var s = TrainLengths.OrderBy(x => x).ToArray();
        long P(double q) => s[Math.Min(s.Length - 1, (int)(q * s.Length))];
        return $"file length min {s[0]:N0} / median {P(0.5):N0} / p90 {P(0.9):N0} / max {s[^1]:N0} bytes";
    }
}
