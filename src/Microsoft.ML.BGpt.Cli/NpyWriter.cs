using System.Text;
using Microsoft.ML.BGpt.Checkpoints;

namespace Microsoft.ML.BGpt.Cli;

/// <summary>Writes float32 arrays as NumPy .npy (version 1.0, little-endian, C order).</summary>
internal static class NpyWriter
{
    public static void Write(string path, float[] data, params long[] shape)
    {
        var dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n"; // data starts 64-byte aligned
        AtomicFile.Write(path, stream =>
        {
            using var f = new BinaryWriter(stream, Encoding.ASCII, leaveOpen: true);
            f.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
            f.Write((ushort)header.Length);
            f.Write(Encoding.ASCII.GetBytes(header));
            foreach (var v in data) f.Write(v);
        });
    }
}
