using Microsoft.ML.Data;

namespace Microsoft.ML.BGpt.Evaluation;

/// <summary>Test-split results of one model: accuracy, macro-F1, per-class recall and the confusion matrix (rows = true class).</summary>
internal sealed record ClassMetrics(IReadOnlyList<string> Classes, int[,] Confusion)
{
    public int Total => Enumerable.Range(0, Classes.Count).Sum(i => Enumerable.Range(0, Classes.Count).Sum(j => Confusion[i, j]));
    public double Accuracy => Total == 0 ? 0 : Enumerable.Range(0, Classes.Count).Sum(i => Confusion[i, i]) / (double)Total;
    public double Recall(int c) { int n = Row(c); return n == 0 ? 0 : Confusion[c, c] / (double)n; }
    public double Precision(int c) { int n = Enumerable.Range(0, Classes.Count).Sum(i => Confusion[i, c]); return n == 0 ? 0 : Confusion[c, c] / (double)n; }
    public double F1(int c) { double p = Precision(c), r = Recall(c); return p + r == 0 ? 0 : 2 * p * r / (p + r); }
    /// <summary>Mean F1 over the classes that occur in the test split.</summary>
    public double MacroF1 => Enumerable.Range(0, Classes.Count).Where(c => Row(c) > 0).Select(F1).DefaultIfEmpty(0).Average();
    public int Row(int c) => Enumerable.Range(0, Classes.Count).Sum(j => Confusion[c, j]);

    /// <summary>Reads the key-typed Label and PredictedLabel of a scored test view (the label's key values name the classes).</summary>
    public static ClassMetrics FromScored(IDataView scored, string label = "Label", string predicted = "PredictedLabel")
    {
        VBuffer<ReadOnlyMemory<char>> names = default;
        scored.Schema[label].GetKeyValues(ref names);
        var classes = names.DenseValues().Select(v => v.ToString()).ToList();
        var confusion = new int[classes.Count, classes.Count];
        using var cursor = scored.GetRowCursor(new[] { scored.Schema[label], scored.Schema[predicted] });
        var getLabel = cursor.GetGetter<uint>(scored.Schema[label]);
        var getPredicted = cursor.GetGetter<uint>(scored.Schema[predicted]);
        uint y = 0, p = 0;
        while (cursor.MoveNext())
        {
            getLabel(ref y);
            getPredicted(ref p);
            if (y == 0) continue; // a test label never seen in training (missing key): counted nowhere
            if (p == 0) throw new InvalidOperationException("A prediction is missing.");
            confusion[y - 1, p - 1]++;
        }
        return new ClassMetrics(classes, confusion);
    }
}
