using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// Writes an uncompressed zip whose record data start on 64-byte boundaries, padded as torch's
/// PyTorchStreamWriter does (an extra field "FB" filled with 'Z'), so torch can memory-map storages.
/// </summary>
internal sealed class ZipStoreWriter
{
    private const int Alignment = 64;
    private readonly Stream _out;
    private readonly List<(string Name, uint Crc, long Size, long Offset)> _entries = new();

    public ZipStoreWriter(Stream output) => _out = output;

    public void Add(string name, ReadOnlySpan<byte> data)
    {
        long offset = _out.Position;
        var nameBytes = Encoding.UTF8.GetBytes(name);
        if (offset + data.Length > uint.MaxValue)
            throw new NotSupportedException("Checkpoints over 4 GiB (zip64) are not supported by this writer.");
        long headerEnd = offset + 30 + nameBytes.Length + 4;
        int padding = (int)((Alignment - headerEnd % Alignment) % Alignment);
        uint crc = Crc32.Compute(data);

        Span<byte> h = stackalloc byte[30];
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 20);            // version needed: 2.0
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 0x0800);        // flags: UTF-8 names
        BinaryPrimitives.WriteUInt16LittleEndian(h[8..], 0);             // stored
        BinaryPrimitives.WriteUInt32LittleEndian(h[10..], 0x00210000);   // 1980-01-01 00:00, so the file is reproducible
        BinaryPrimitives.WriteUInt32LittleEndian(h[14..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(h[18..], (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h[22..], (uint)data.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameBytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)(4 + padding));
        _out.Write(h);
        _out.Write(nameBytes);
        _out.Write("FB"u8);
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)padding);
        _out.Write(len);
        for (int i = 0; i < padding; i++) _out.WriteByte((byte)'Z');
        _out.Write(data);
        _entries.Add((name, crc, data.Length, offset));
    }

    /// <summary>Writes the central directory and end record.</summary>
    public void Finish()
    {
        long cdStart = _out.Position;
        Span<byte> c = stackalloc byte[46];
        foreach (var (name, crc, size, offset) in _entries)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            c.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(c, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(c[4..], 20);
            BinaryPrimitives.WriteUInt16LittleEndian(c[6..], 20);
            BinaryPrimitives.WriteUInt16LittleEndian(c[8..], 0x0800);
            BinaryPrimitives.WriteUInt32LittleEndian(c[12..], 0x00210000);
            BinaryPrimitives.WriteUInt32LittleEndian(c[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(c[20..], (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(c[24..], (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(c[28..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(c[42..], (uint)offset);
            _out.Write(c);
            _out.Write(nameBytes);
        }
        long cdSize = _out.Position - cdStart;
        if (_entries.Count > ushort.MaxValue || cdStart > uint.MaxValue)
            throw new NotSupportedException("Checkpoints over 4 GiB or 65535 records (zip64) are not supported by this writer.");
        Span<byte> e = stackalloc byte[22];
        e.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(e, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(e[8..], (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(e[10..], (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(e[12..], (uint)cdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(e[16..], (uint)cdStart);
        _out.Write(e);
    }
}

/// <summary>CRC-32 (IEEE 802.3, as zip uses), table driven: enough for checkpoint sizes without a package.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xffffffffu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xff] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }
}
