using System.Buffers.Binary;
using System.Text.Json;

namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>The tensors and the optional string metadata of a safetensors file.</summary>
/// <param name="Tensors">Tensors by name, in the order of their data in the file.</param>
/// <param name="Metadata">The "__metadata__" map (empty when absent).</param>
public sealed record SafetensorsContent(IReadOnlyDictionary<string, TensorData> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Reads the safetensors format: an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}, "__metadata__": {..}} and the raw little-endian data.
/// </summary>
public static class SafetensorsReader
{
    private const long MaxHeader = 100_000_000; // the reference implementation's limit

    /// <summary>Reads a safetensors file.</summary>
    /// <exception cref="BGptCheckpointException">The file is truncated, malformed or uses an unsupported dtype.</exception>
    public static SafetensorsContent Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException e) { throw new BGptCheckpointException(path, $"cannot be read: {e.Message}", inner: e); }
        return Read(bytes, path);
    }

    /// <summary>Reads safetensors bytes; <paramref name="name"/> is used in error messages.</summary>
    public static SafetensorsContent Read(byte[] bytes, string? name = null)
    {
        if (bytes.Length < 8) throw new BGptCheckpointException(name, "not a safetensors file: shorter than its 8-byte header length.");
        long headerLen = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (headerLen < 2 || headerLen > MaxHeader || headerLen > bytes.Length - 8)
            throw new BGptCheckpointException(name, $"not a safetensors file or truncated: header length {headerLen}, file length {bytes.Length}.");
        var dataStart = 8 + (int)headerLen;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLen)); }
        catch (JsonException e) { throw new BGptCheckpointException(name, $"safetensors header is not valid JSON: {e.Message}", inner: e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new BGptCheckpointException(name, "safetensors header is not a JSON object.");
            var metadata = new Dictionary<string, string>();
            var entries = new List<(string Key, long Begin, TensorData Tensor)>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object) throw new BGptCheckpointException(name, "'__metadata__' is not an object.");
                    foreach (var m in p.Value.EnumerateObject()) metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                entries.Add(ReadTensor(p, bytes, dataStart, name));
            }
            var tensors = new OrderedDictionary<string, TensorData>();
            foreach (var e in entries.OrderBy(e => e.Begin)) tensors[e.Key] = e.Tensor;
            return new SafetensorsContent(tensors, metadata);
        }
    }

    private static (string, long, TensorData) ReadTensor(JsonProperty p, byte[] bytes, int dataStart, string? name)
    {
        try
        {
            var dtypeName = p.Value.GetProperty("dtype").GetString() ?? "";
            var dtype = TensorDTypeExtensions.FromSafetensorsName(dtypeName)
                ?? throw new BGptCheckpointException(name, $"unsupported dtype '{dtypeName}'.", p.Name);
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (offsets.Length != 2 || shape.Any(d => d < 0)) throw new FormatException("bad shape or data_offsets");
            long need = TensorData.CountElements(shape) * dtype.ElementSize();
            if (offsets[1] - offsets[0] != need)
                throw new BGptCheckpointException(name, $"data_offsets [{offsets[0]}, {offsets[1]}] hold {offsets[1] - offsets[0]} bytes but shape {TensorData.FormatShape(shape)} of {dtype} needs {need}.", p.Name);
            if (offsets[0] < 0 || dataStart + offsets[1] > bytes.Length)
                throw new BGptCheckpointException(name, $"data_offsets [{offsets[0]}, {offsets[1]}] lie outside the file (truncated?).", p.Name);
            var data = bytes.AsSpan(dataStart + (int)offsets[0], (int)need).ToArray();
            return (p.Name, offsets[0], new TensorData(dtype, shape, data));
        }
        catch (Exception e) when (e is not BGptCheckpointException)
        {
            throw new BGptCheckpointException(name, $"malformed safetensors header entry: {e.Message}", p.Name, e);
        }
    }
}
