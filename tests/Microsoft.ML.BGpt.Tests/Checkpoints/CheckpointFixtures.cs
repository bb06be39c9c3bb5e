using System.Text.Json;
using Microsoft.ML.BGpt.Checkpoints;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Locates the bgpt-reference fixtures copied next to the test assembly and reads their manifest.</summary>
internal static class CheckpointFixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "bgpt-reference");

    public static string PathOf(string name) => Path.Combine(Dir, name);

    public static JsonElement Manifest { get; } = JsonDocument.Parse(File.ReadAllText(PathOf("manifest.json"))).RootElement;

    public static JsonElement Checkpoint(string name) => Manifest.GetProperty("checkpoints").GetProperty(name);

    /// <summary>(key, shape, dtype) of every tensor the manifest lists for a state dict.</summary>
    public static List<(string Key, long[] Shape, string DType)> Tensors(string name) =>
        Checkpoint(name).GetProperty("tensors").EnumerateArray()
            .Select(t => (t.GetProperty("key").GetString()!, t.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(), t.GetProperty("dtype").GetString()!))
            .ToList();

    public static string NumpyName(TensorDType t) => t switch
    {
        TensorDType.Float32 => "float32",
        TensorDType.UInt8 => "uint8",
        TensorDType.Int64 => "int64",
        _ => t.ToString().ToLowerInvariant(),
    };

    private static readonly string TempRoot = CreateTempRoot();

    /// <summary>A fresh temp folder for files a test writes; all are deleted when the test process exits.</summary>
    public static string TempDir()
    {
        var dir = Path.Combine(TempRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string CreateTempRoot()
    {
        var root = Path.Combine(Path.GetTempPath(), $"bgpt-ckpt-tests-{Environment.ProcessId}");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return root;
    }
}
