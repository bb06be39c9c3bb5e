namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>Command-line options of the benchmark program.</summary>
internal sealed record BenchOptions
{
    /// <summary>Fewer runs, fewer files, the longest rows of the paper configuration skipped: under ~3 minutes on 2 cores.</summary>
    public bool Quick { get; init; }

    /// <summary>Where the markdown table goes (relative to the current directory). Default docs/benchmarks.md.</summary>
    public string Out { get; init; } = Path.Combine("docs", "benchmarks.md");

    /// <summary>Families to run (comma-separated), or null for all: matmul, forward, throughput, lm, generation, training, memory, diagnostics.</summary>
    public HashSet<string>? Only { get; init; }

    /// <summary>Configurations to run (comma-separated): paper, small. Default both.</summary>
    public HashSet<string> Configs { get; init; } = new(StringComparer.OrdinalIgnoreCase) { "paper", "small" };

    /// <summary>OMP_WAIT_POLICY for libtorch in this process: passive (default here) or default (leave it unset).</summary>
    public string OmpWaitPolicy { get; init; } = "passive";

    /// <summary>torch.set_num_threads at start (default: libtorch's own choice).</summary>
    public int? TorchThreads { get; init; }

    /// <summary>Internal: run one memory probe in this (child) process and print its result.</summary>
    public string? Probe { get; init; }

    /// <summary>Predictions for the no-growth check (10,000 by default, 2,000 with --quick).</summary>
    public int LeakPredictions => LeakPredictionsOverride ?? (Quick ? 2_000 : 10_000);
    public int? LeakPredictionsOverride { get; init; }

    public int Warmup => Quick ? 1 : 2;
    public int Runs => Quick ? 3 : 7;
    /// <summary>Seconds of timed runs one row aims at; long rows get fewer runs (never below 2, or 3 in a full run).</summary>
    public double RowBudgetSeconds => Quick ? 4 : 25;
    public int MinRuns => Quick ? 2 : 3;

    public bool Runs_(string family) => Only is null || Only.Contains(family);

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            HashSet<string> Set(string v) => new(v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
            o = args[i] switch
            {
                "--quick" => o with { Quick = true },
                "--out" => o with { Out = Next() },
                "--only" => o with { Only = Set(Next()) },
                "--configs" => o with { Configs = Set(Next()) },
                "--probe" => o with { Probe = Next() },
                "--omp-wait-policy" => o with { OmpWaitPolicy = Next() },
                "--torch-threads" => o with { TorchThreads = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                "--leak-predictions" => o with { LeakPredictionsOverride = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                "-h" or "--help" => throw new HelpRequested(),
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
        }
        return o;
    }

    public const string Usage = """
        bGPT benchmarks: TorchSharp and ONNX Runtime (through ML.NET) with each engine's plain matmul rate in the same run.
          dotnet run -c Release --project benchmarks/Microsoft.ML.BGpt.Benchmarks [-- options]
        Options:
          --quick                 fewer runs and files (< ~3 minutes on 2 cores)
          --out PATH              markdown output (default docs/benchmarks.md)
          --only LIST             families: matmul,forward,throughput,lm,generation,training,memory,diagnostics
          --configs LIST          paper,small (default both)
          --omp-wait-policy P     passive (default) or default: OpenMP wait policy of libtorch in this process
          --torch-threads N       torch.set_num_threads(N) first (default: libtorch's choice)
          --leak-predictions N    predictions of the no-growth check (default 10000; 2000 with --quick)
        """;
}

internal sealed class HelpRequested : Exception;
