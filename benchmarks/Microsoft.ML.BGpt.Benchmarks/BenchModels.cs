using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>
/// One benchmarked configuration with random (seeded) weights, saved once as original-layout checkpoints in a
/// cache folder (so ML.NET's FeaturizeBGpt / ScoreBitsPerByte get a CheckpointPath, as users give them).
/// </summary>
internal sealed class BenchModel
{
    public const int Seed = 1234;

    /// <summary>The filetypes classes: the classifier head's labels.</summary>
    public static readonly IReadOnlyList<string> Labels =
    [
        "bmp", "bzip2", "c", "css", "elf", "flac", "font", "gif", "gzip", "html", "ico", "javascript", "jpeg", "json",
        "markdown", "ogg", "pdf", "png", "python", "shell", "svg", "troff", "txt", "wav", "xml", "xz", "zip",
    ];

    private BenchModel(string name, BGptConfig config, string folder)
    {
        Name = name;
        Config = config;
        Folder = folder;
    }

    public string Name { get; }
    public BGptConfig Config { get; }
    public string Folder { get; }
    public string LmPath => Path.Combine(Folder, "lm.pth");
    public string ClsPath => Path.Combine(Folder, "cls.pth");

    /// <summary>Parameters of the LM (both decoders; the byte decoder's output projection is tied).</summary>
    public long LmParameters { get; private set; }

    /// <summary>Parameters of the classifier (patch decoder + head).</summary>
    public long ClassifierParameters { get; private set; }

    public string Describe() =>
        $"{Name}: H={Config.HiddenSize}, {Config.PatchNumLayers}+{Config.ByteNumLayers} layers, {Config.NumHeads} heads, {Config.PatchLength}×{Config.PatchSize} bytes; " +
        $"LM {LmParameters / 1e6:0.0}M params, classifier {ClassifierParameters / 1e6:0.0}M";

    public static BGptConfig ConfigOf(string name) => name.ToLowerInvariant() switch
    {
        "paper" => BGptConfig.Default,                                                             // 110M LM
        "small" => BGptConfig.Create(hiddenSize: 384, patchNumLayers: 6, byteNumLayers: 2),      // ~16M LM
        _ => throw new ArgumentException($"Unknown configuration '{name}' (paper, small)."),
    };

    /// <summary>The configuration's checkpoints, created (random, seeded) on first use and cached under the temp folder.</summary>
    public static BenchModel Prepare(string name, Action<string>? log = null)
    {
        var config = ConfigOf(name);
        var folder = Path.Combine(Path.GetTempPath(), "bgpt-bench",
            $"{name}-h{config.HiddenSize}-l{config.PatchNumLayers}x{config.ByteNumLayers}-n{config.PatchLength}-s{Seed}");
        Directory.CreateDirectory(folder);
        var m = new BenchModel(name, config, folder);
        if (!File.Exists(m.LmPath) || !File.Exists(m.ClsPath))
        {
            log?.Invoke($"creating random {name} checkpoints in {folder}");
            manual_seed(Seed);
            using var lm = new BGptLMHeadModel(config);
            var checkpoint = BGptModels.ToCheckpoint(lm);
            checkpoint.Save(m.LmPath, CheckpointFormat.StateDict);
            checkpoint.ToClassifier(Labels, Seed).Save(m.ClsPath, CheckpointFormat.StateDict);
        }
        m.LmParameters = CountParameters(config, lm: true);
        m.ClassifierParameters = CountParameters(config, lm: false);
        return m;
    }

    public BGptCheckpoint LoadLm() => BGptCheckpoint.Load(LmPath);
    public BGptCheckpoint LoadClassifier() => BGptCheckpoint.Load(ClsPath);

    private static long CountParameters(BGptConfig c, bool lm)
    {
        long h = c.HiddenSize, i = c.InnerSize;
        long layer = 4 * h * h + 4 * h + 2 * h * i + i + h + 4 * h;                 // attn + mlp weights/biases + 2 LayerNorms
        long patch = (long)c.PatchSize * c.VocabSize * h + h + (long)c.PatchLength * h + c.PatchNumLayers * layer + 2 * h;
        if (!lm) return patch + Labels.Count * (h + 1);
        long bytes = (long)c.VocabSize * h + (c.PatchSize + 1L) * h + c.ByteNumLayers * layer + 2 * h;
        return patch + bytes;
    }
}
