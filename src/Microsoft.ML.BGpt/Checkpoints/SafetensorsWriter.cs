using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>Writes the safetensors format (see <see cref="SafetensorsReader"/>), data in the given tensor order.</summary>
public static class SafetensorsWriter
{
    /// <summary>Writes tensors (and optional string metadata) to <paramref name="path"/> via a temporary file.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, TensorData>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        AtomicFile.Write(path, s => Write(s, list, metadata));
    }

    /// <summary>Writes tensors (and optional string metadata) to a stream.</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, TensorData>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var duplicate = list.GroupBy(kv => kv.Key).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Tensor name '{duplicate.Key}' appears twice.", nameof(tensors));
        if (list.Any(kv => kv.Key == "__metadata__")) throw new ArgumentException("'__metadata__' is reserved.", nameof(tensors));
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in list)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", t.DType.SafetensorsName());
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset += t.Data.LongLength);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        // Pad the header with spaces to a multiple of 8 so the data is aligned, as the reference writer does.
        var header = json.ToArray().ToList();
        while (header.Count % 8 != 0) header.Add((byte)' ');
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, header.Count);
        stream.Write(len);
        stream.Write(header.ToArray());
        foreach (var (_, t) in list) stream.Write(t.Data);
    }
}
