using System.Globalization;
using System.Text;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>One line of the table.</summary>
/// <param name="Family">matmul, forward, throughput, lm, generation, training, memory, diagnostics.</param>
/// <param name="Engine">"TorchSharp" or "ORT" (ONNX Runtime); the efficiency column divides by this engine's fp32 matmul rate.</param>
/// <param name="Api">What was called (ML.NET PredictionEngine, Transform, BGptClassifier.forward...).</param>
/// <param name="Time">Seconds per operation; null for rows without a time (memory).</param>
/// <param name="Flop">Model FLOPs of one operation (0: not counted).</param>
/// <param name="Throughput">Extra rate column (files/s, KB/s, bytes/s, peak MB).</param>
internal sealed record Row(string Family, string Config, string Engine, string Api, string Precision, string Case,
    Stats? Time, double Flop, string Throughput = "", string Notes = "")
{
    public double? FlopRate => Time is { Median: > 0 } t && Flop > 0 ? Flop / t.Median : null;
}

/// <summary>The rows of one run and how they are printed and written.</summary>
internal sealed class Report
{
    private readonly List<Row> _rows = new();
    private readonly Dictionary<string, double> _matmul = new(StringComparer.Ordinal);

    public IReadOnlyList<Row> Rows => _rows;
    public List<string> Environment { get; } = new();
    public List<string> Findings { get; } = new();
    public Dictionary<string, object> Values { get; } = new(StringComparer.Ordinal);

    /// <summary>Records an engine's fp32 2048³ matmul rate (FLOP/s), the denominator of its rows' efficiency.</summary>
    public void SetMatmulRate(string engine, double flops) => _matmul[engine] = flops;

    public double? MatmulRate(string engine) => _matmul.TryGetValue(engine, out var v) ? v : null;

    public Row Add(Row row)
    {
        _rows.Add(row);
        Console.WriteLine(Format(row, _rows.Count));
        return row;
    }

    /// <summary>
    /// Model FLOP/s ÷ the engine's fp32 matmul FLOP/s: the matmul timed between this row's own runs when paired,
    /// otherwise the run's matmul rows.
    /// </summary>
    public double? Efficiency(Row row)
    {
        if (row.FlopRate is not { } rate) return null;
        if (row.Family != "matmul" && row.Time?.ReferenceSeconds is { } s) return rate / (Flops.Matmul(MatmulBench.N) / s);
        return MatmulRate(row.Engine) is { } mm ? rate / mm : null;
    }

    public const string Header =
        "| # | family | config | engine | API | precision | case | median | spread | throughput | GFLOP | GFLOP/s | eff. | mm GFLOP/s | notes |\n" +
        "|---:|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|";

    public string Format(Row r, int index)
    {
        var eff = Efficiency(r);
        return "| " + string.Join(" | ", new[]
        {
            index.ToString(CultureInfo.InvariantCulture), r.Family, r.Config, r.Engine, r.Api, r.Precision, r.Case,
            r.Time is null ? "—" : Seconds(r.Time.Median),
            r.Time is null ? "—" : r.Time.SpreadText,
            r.Throughput,
            r.Flop > 0 ? (r.Flop / 1e9).ToString("0.##", CultureInfo.InvariantCulture) : "—",
            r.FlopRate is { } f ? (f / 1e9).ToString("0.#", CultureInfo.InvariantCulture) : "—",
            eff is { } e ? (e * 100).ToString("0", CultureInfo.InvariantCulture) + "%" : "—",
            r.Time?.ReferenceSeconds is { } s && r.Family != "matmul" ? (Flops.Matmul(MatmulBench.N) / s / 1e9).ToString("0", CultureInfo.InvariantCulture) : "—",
            r.Notes,
        }) + " |";
    }

    public static string Seconds(double s) => s switch
    {
        >= 1 => s.ToString("0.00", CultureInfo.InvariantCulture) + " s",
        >= 1e-3 => (s * 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " ms",
        _ => (s * 1e6).ToString("0", CultureInfo.InvariantCulture) + " µs",
    };

    public string Table()
    {
        var sb = new StringBuilder();
        sb.AppendLine(Header);
        for (int i = 0; i < _rows.Count; i++) sb.AppendLine(Format(_rows[i], i + 1));
        return sb.ToString();
    }

    public Row? Find(Func<Row, bool> predicate) => _rows.LastOrDefault(predicate);

    private const string AnalysisStart = "<!-- analysis: kept across runs; edit by hand -->";
    private const string AnalysisEnd = "<!-- /analysis -->";

    /// <summary>Writes the markdown document, keeping a hand-written analysis section of an existing file.</summary>
    public void WriteMarkdown(string path, string command, string targets, TimeSpan elapsed)
    {
        string analysis = $"{AnalysisStart}\n## Analysis\n\n(to be written)\n{AnalysisEnd}";
        if (File.Exists(path))
        {
            var old = File.ReadAllText(path);
            int a = old.IndexOf(AnalysisStart, StringComparison.Ordinal), b = old.IndexOf(AnalysisEnd, StringComparison.Ordinal);
            if (a >= 0 && b > a) analysis = old[a..(b + AnalysisEnd.Length)];
        }
        var sb = new StringBuilder();
        sb.AppendLine("# bGPT benchmarks");
        sb.AppendLine();
        sb.AppendLine($"Generated by `{command}` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC in {elapsed.TotalMinutes:0.0} min. " +
                      "Everything below the analysis is rewritten by each run; the analysis section is kept.");
        sb.AppendLine();
        sb.AppendLine(analysis);
        sb.AppendLine();
        sb.AppendLine("## Machine and settings");
        sb.AppendLine();
        foreach (var line in Environment) sb.AppendLine("- " + line);
        sb.AppendLine();
        sb.AppendLine("## Targets (this run)");
        sb.AppendLine();
        sb.AppendLine(targets);
        sb.AppendLine();
        sb.AppendLine("## Results");
        sb.AppendLine();
        sb.AppendLine("Median of the timed runs after warm-up; spread = ±half of (max − min) / median, with the number of timed runs. " +
                      "eff. = model FLOP/s ÷ the same engine's fp32 2048³ matmul FLOP/s timed between this row's own runs (column mm GFLOP/s; " +
                      "median of 1–3 matmuls after the first, middle and last timed run), since this shared machine's speed drifts within minutes. " +
                      "ORT rows go through ML.NET (`PredictionEngine` per file, `Transform` + cursor for throughput) unless the API column says otherwise.");
        sb.AppendLine();
        sb.Append(Table());
        sb.AppendLine();
        if (Findings.Count > 0)
        {
            sb.AppendLine("## Notes from this run");
            sb.AppendLine();
            foreach (var f in Findings) sb.AppendLine("- " + f);
            sb.AppendLine();
        }
        sb.AppendLine("## FLOP formulas");
        sb.AppendLine();
        sb.AppendLine(Flops.FormulaMarkdown);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllText(path, sb.ToString());
    }
}
