using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Onnx;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>
/// Peak working set (VmHWM) of each scenario, each in a fresh child process (this program with --probe), so one
/// scenario's peak does not hide another's; and the no-growth check over many predictions.
/// </summary>
internal static class MemoryBench
{
    public sealed class BytesRow
    {
        [VectorType] public byte[] Bytes { get; set; } = [];
        [VectorType] public byte[] Extension { get; set; } = [];
    }

    private sealed record ProbeResult(long Peak, long ServingPeak, long Rss, string Notes);

    private static readonly (string Name, string Config, string Engine, string Api, string Precision, string Case)[] Probes =
    [
        ("ort-fp32", "paper", "ORT", "FeaturizeBGpt(CheckpointPath) · PredictionEngine", "fp32", "features 8 KB × 5"),
        ("ort-fp32-file", "paper", "ORT", "ApplyOnnxModel(exported .onnx) · PredictionEngine", "fp32", "features 8 KB × 5"),
        ("ort-int8-file", "paper", "ORT", "ApplyOnnxModel(quantized .onnx) · PredictionEngine", "int8 dyn.", "features 8 KB × 5"),
        ("torch-fp32", "paper", "TorchSharp", "BGptClassifier.forward, inference_mode", "fp32", "classify 8 KB × 5"),
        ("train-fp32", "paper", "TorchSharp", "classifier step: fwd + bwd + AdamW", "fp32", "1 KB × batch 8, 3 steps"),
        ("train-bf16", "paper", "TorchSharp", "classifier step: fwd + bwd + AdamW", "bf16 mixed", "1 KB × batch 8, 3 steps"),
    ];

    public static void Run(BenchOptions o, Report report, SampleData data, IReadOnlyCollection<string> configs)
    {
        foreach (var p in Probes.Where(p => configs.Contains(p.Config)))
        {
            if ((o.Quick || !Bf16.Runs) && p.Name is "train-bf16") continue;
            var m = BenchModel.Prepare(p.Config);
            if (p.Name.EndsWith("-file", StringComparison.Ordinal)) ExportFeatures(m, p.Name.Contains("int8"));
            var r = Child(o, p.Name, p.Config);
            if (r is null) { report.Add(new Row("memory", p.Config, p.Engine, p.Api, p.Precision, p.Case, null, 0, "probe failed")); continue; }
            report.Add(new Row("memory", p.Config, p.Engine, p.Api, p.Precision, p.Case, null, 0,
                $"peak {Mb(r.Peak)}", (r.ServingPeak > 0 ? $"peak after load (serving) {Mb(r.ServingPeak)}; " : "") + r.Notes));
            report.Values[$"memory.{p.Name}"] = r.Peak;
            if (r.ServingPeak > 0) report.Values[$"memory.{p.Name}.serving"] = r.ServingPeak;
        }

        if (configs.Contains("small") || configs.Contains("paper"))
        {
            string config = configs.Contains("small") ? "small" : "paper";
            var r = Child(o, "leak", config);
            if (r is null) report.Add(new Row("memory", config, "ORT", "FeaturizeBGpt · PredictionEngine", "fp32", "no-growth check", null, 0, "probe failed"));
            else
            {
                report.Add(new Row("memory", config, "ORT", "FeaturizeBGpt · PredictionEngine", "fp32", $"{o.LeakPredictions:N0} predictions, 64 B–2 KB", null, 0,
                    $"peak {Mb(r.Peak)}", r.Notes));
                report.Values["memory.leak.notes"] = r.Notes;
                report.Values["memory.leak.growth"] = r.Rss;
            }
        }
    }

    private static string Mb(long bytes) => $"{bytes / 1e6:N0} MB";

    private static string ExportedPath(BenchModel m, bool int8) => Path.Combine(m.Folder, int8 ? "features-int8.onnx" : "features-fp32.onnx");

    private static void ExportFeatures(BenchModel m, bool int8)
    {
        var path = ExportedPath(m, int8);
        if (File.Exists(path)) return;
        var checkpoint = m.LoadClassifier();
        var onnx = BGptOnnxExporter.Export(checkpoint.Weights, checkpoint.Config, new BGptOnnxOptions { Head = OnnxHead.Features });
        if (int8) onnx = OnnxQuantizer.QuantizeDynamic(onnx);
        File.WriteAllBytes(path + ".tmp", onnx);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private static ProbeResult? Child(BenchOptions o, string probe, string config) => ChildJson<ProbeResult>(o, probe, config, new(), []);

    /// <summary>Runs this program with --probe in a child process (extra environment and arguments) and parses its PROBE line.</summary>
    public static T? ChildJson<T>(BenchOptions o, string probe, string config, Dictionary<string, string> env, string[] extraArgs) where T : class
    {
        var exe = Environment.ProcessPath!;
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(exe).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            psi.FileName = exe;
            psi.ArgumentList.Add(typeof(MemoryBench).Assembly.Location);
        }
        else psi.FileName = exe;
        foreach (var a in new[] { "--probe", probe, "--configs", config, "--leak-predictions", o.LeakPredictions.ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        if (o.Quick) psi.ArgumentList.Add("--quick");
        foreach (var a in extraArgs) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--omp-wait-policy");
        psi.ArgumentList.Add(o.OmpWaitPolicy);
        if (env.Remove("OMP_WAIT_POLICY", out var policy))
        {
            psi.Environment.Remove("OMP_WAIT_POLICY");
            psi.ArgumentList[^1] = policy;
        }
        foreach (var (key, value) in env) psi.Environment[key] = value;
        var sw = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith("PROBE ", StringComparison.Ordinal));
        Console.WriteLine($"  probe {probe} ({config}{string.Concat(env.Select(e => $", {e.Key}={e.Value}"))}{(extraArgs.Length > 0 ? ", " + string.Join(" ", extraArgs) : "")}): {sw.Elapsed.TotalSeconds:0.0} s, exit {process.ExitCode}");
        if (line is null)
        {
            Console.Error.WriteLine(stdout + stderr.Result);
            return null;
        }
        return JsonSerializer.Deserialize<T>(line["PROBE ".Length..]);
    }

    /// <summary>Child side: runs one scenario and prints "PROBE {json}".</summary>
    public static int RunProbe(BenchOptions o)
    {
        string config = o.Configs.Single();
        var m = BenchModel.Prepare(config);
        var data = SampleData.Load(Path.Combine(Path.GetTempPath(), "bgpt-bench", "inputs"));
        if (o.Probe == "torch-forward")
        {
            Console.WriteLine("PROBE " + JsonSerializer.Serialize(DiagnosticsBench.TorchForwardProbe(o, m, data)));
            return 0;
        }
        var result = o.Probe switch
        {
            "ort-fp32" => Ort(m, data, ml => ml.Transforms.LoadFileBytes("Bytes", "Path")
                .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = m.ClsPath }))),
            "ort-fp32-file" or "ort-int8-file" => Ort(m, data, ml => ml.Transforms.LoadFileBytes("Bytes", "Path")
                .Append(ml.Transforms.CopyColumns(BGptOnnxExporter.BytesInput, "Bytes"))
                .Append(ml.Transforms.CopyColumns(BGptOnnxExporter.ExtensionInput, "Extension"))
                .Append(OnnxBench.Apply(ml, [BGptOnnxExporter.FeaturesOutput], ExportedPath(m, o.Probe.Contains("int8"))))
                .Append(ml.Transforms.CopyColumns("Features", BGptOnnxExporter.FeaturesOutput))),
            "torch-fp32" => Torch(m, data),
            "train-fp32" => Train(m, data, bf16: false),
            "train-bf16" => Train(m, data, bf16: true),
            "leak" => Leak(o, m, data),
            _ => throw new ArgumentException($"Unknown probe {o.Probe}."),
        };
        Console.WriteLine("PROBE " + JsonSerializer.Serialize(result));
        return 0;
    }

    private static ProbeResult Ort(BenchModel m, SampleData data, Func<MLContext, IEstimator<ITransformer>> pipeline)
    {
        var ml = new MLContext(seed: 0);
        var fit = ml.Data.LoadFromEnumerable(new[] { new OnnxBench.PathRow { Path = data.Input1K } });
        var model = pipeline(ml).Fit(fit);
        using var engine = ml.Model.CreatePredictionEngine<OnnxBench.PathRow, OnnxBench.FeaturesRow>(model);
        var input = new OnnxBench.PathRow { Path = data.Input8K };
        engine.Predict(input);
        Release();
        _peakBeforeReset = Measure.PeakWorkingSet();
        bool reset = Measure.ResetPeak();
        for (int i = 0; i < 4; i++) engine.Predict(input);
        long serving = reset ? Measure.PeakWorkingSet() : 0;
        return new ProbeResult(MaxPeak(), serving, Measure.WorkingSet(), $"working set after {Mb(Measure.WorkingSet())}");
    }

    private static long _peakBeforeReset;

    /// <summary>Collects and hands freed managed memory back to the OS (the checkpoint and ONNX bytes of the load).</summary>
    private static void Release()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>The process's overall peak, including what was seen before a reset.</summary>
    private static long MaxPeak() => Math.Max(_peakBeforeReset, Measure.PeakWorkingSet());

    private static ProbeResult Torch(BenchModel m, SampleData data)
    {
        using var model = LoadModel(m);
        using (inference_mode())
        {
            using (var s = NewDisposeScope()) model.forward(TorchBench.Tokens(data.Input8K, m.Config));
            Release();
            _peakBeforeReset = Measure.PeakWorkingSet();
            bool reset = Measure.ResetPeak();
            for (int i = 0; i < 4; i++)
                using (var s = NewDisposeScope()) model.forward(TorchBench.Tokens(data.Input8K, m.Config));
            return new ProbeResult(MaxPeak(), reset ? Measure.PeakWorkingSet() : 0, Measure.WorkingSet(), $"working set after {Mb(Measure.WorkingSet())}");
        }
    }

    // In its own method so that nothing in the probe's frame keeps the checkpoint's bytes alive (a local set to null
    // did not: tier-0 code kept a copy, 358 MB of the 1,225 MB measured before).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static Modeling.BGptClassifier LoadModel(BenchModel m) => BGptModels.Classifier(m.LoadClassifier());

    private static ProbeResult Train(BenchModel m, SampleData data, bool bf16)
    {
        using var heap = Runtime.NativeMemory.RetainFreedMemory(); // as the trainers hold it: freed memory stays for reuse
        using var bench = new TrainingBench(m, bf16);
        using var x = TrainingBench.Batch(m, data, 1024, 8, out var labels);
        using var _ = labels;
        for (int i = 0; i < 3; i++) bench.Step(x, labels);
        return new ProbeResult(Measure.PeakWorkingSet(), 0, Measure.WorkingSet(), $"working set after {Mb(Measure.WorkingSet())}");
    }

    private static ProbeResult Leak(BenchOptions o, BenchModel m, SampleData data)
    {
        var ml = new MLContext(seed: 0);
        var pool = data.Files.SelectMany(File.ReadAllBytes).Take(1 << 16).ToArray();
        var extensions = data.Files.Select(f => ByteEncoder.ExtensionBytes(ByteEncoder.ExtensionOf(f), m.Config.PatchSize)).ToArray();
        BytesRow Input(int i)
        {
            int length = 64 + (int)((i * 397L) % 1985);                                      // 64 B .. 2 KB
            int start = (int)((i * 7919L) % (pool.Length - length));
            return new BytesRow { Bytes = pool[start..(start + length)], Extension = extensions[i % extensions.Length] };
        }
        var fit = ml.Data.LoadFromEnumerable(new[] { Input(0) });
        var model = ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = m.ClsPath }).Fit(fit);
        using var engine = ml.Model.CreatePredictionEngine<BytesRow, OnnxBench.FeaturesRow>(model);
        int total = o.LeakPredictions, warm = Math.Max(100, total / 20);
        for (int i = 0; i < warm; i++) engine.Predict(Input(i));
        long Settled() { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); return Measure.WorkingSet(); }
        long start = Settled(), managedStart = GC.GetTotalMemory(true);
        var samples = new List<long>();
        var sw = Stopwatch.StartNew();
        for (int i = warm; i < warm + total; i++)
        {
            engine.Predict(Input(i));
            if ((i - warm + 1) % Math.Max(1, total / 5) == 0) samples.Add(Settled());
        }
        double seconds = sw.Elapsed.TotalSeconds;
        long end = Settled(), managedEnd = GC.GetTotalMemory(true);
        string trend = string.Join(" → ", samples.Select(s => $"{s / 1048576.0:0}"));
        return new ProbeResult(Measure.PeakWorkingSet(), 0, end - start,
            $"working set after {warm} warm-up predictions {Mb(start)}, after {total:N0} more {Mb(end)} (growth {(end - start) / 1048576.0:+0.0;-0.0} MB; " +
            $"samples {trend} MB); managed heap {(managedEnd - managedStart) / 1024.0:+0;-0} KB; {total / seconds:0} predictions/s");
    }
}
