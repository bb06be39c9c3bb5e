using System.Text.Json;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>The original bGPT's golden outputs, copied into the test output under Fixtures/bgpt-reference.</summary>
public static class ReferenceFixtures
{
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "Fixtures", "bgpt-reference");

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static readonly Lazy<JsonElement> _manifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(PathOf("manifest.json"))).RootElement);

    public static JsonElement Manifest => _manifest.Value;

    /// <summary>The configuration the fixtures were made with (PATCH_SIZE 16, PATCH_LENGTH 32, hidden 128, 2 + 1 layers, 2 heads).</summary>
    public static BGptConfig Config { get; } = BGptConfig.Create(patchSize: 16, patchLength: 32, hiddenSize: 128, patchNumLayers: 2, byteNumLayers: 1);

    public static IEnumerable<JsonElement> Cases => Manifest.GetProperty("cases").EnumerateArray();

    public static JsonElement Case(string id) => Cases.Single(c => c.GetProperty("id").GetString() == id);

    public static IEnumerable<object[]> CaseIds => Cases.Select(c => new object[] { c.GetProperty("id").GetString()! });

    public static float[] Floats(string relative, out long[] shape) => Npy.ReadFloat32(PathOf(relative), out shape);
    public static float[] Floats(string relative) => Npy.ReadFloat32(PathOf(relative));
    public static int[] Ints(string relative) => Npy.ReadInt32(PathOf(relative));
    public static long[] Longs(string relative) => Npy.ReadInt64(PathOf(relative));
}
