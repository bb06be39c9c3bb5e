using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Minimal reader of NumPy .npy files (little-endian, C order) for the reference fixtures.</summary>
public static class Npy
{
    public static float[] ReadFloat32(string path, out long[] shape) => Read(path, "<f4", 4, out shape, (b, i) => BitConverter.ToSingle(b, i));
    public static float[] ReadFloat32(string path) => ReadFloat32(path, out _);
    public static int[] ReadInt32(string path, out long[] shape) => Read(path, "<i4", 4, out shape, (b, i) => BitConverter.ToInt32(b, i));
    public static int[] ReadInt32(string path) => ReadInt32(path, out _);
    public static long[] ReadInt64(string path, out long[] shape) => Read(path, "<i8", 8, out shape, (b, i) => BitConverter.ToInt64(b, i));
    public static long[] ReadInt64(string path) => ReadInt64(path, out _);

    private static T[] Read<T>(string path, string dtype, int size, out long[] shape, Func<byte[], int, T> conv)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new InvalidDataException($"{path}: not an .npy file");
        int major = bytes[6];
        int headerLen = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        int dataStart = (major == 1 ? 10 : 12) + headerLen;
        var header = Encoding.ASCII.GetString(bytes, major == 1 ? 10 : 12, headerLen);
        var descr = Regex.Match(header, @"'descr':\s*'([^']+)'").Groups[1].Value;
        if (descr != dtype) throw new InvalidDataException($"{path}: dtype {descr}, expected {dtype}");
        if (header.Contains("'fortran_order': True")) throw new InvalidDataException($"{path}: Fortran order");
        var dims = Regex.Match(header, @"'shape':\s*\(([^)]*)\)").Groups[1].Value;
        shape = dims.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var result = new T[n];
        for (int i = 0; i < n; i++) result[i] = conv(bytes, dataStart + i * size);
        return result;
    }
}
