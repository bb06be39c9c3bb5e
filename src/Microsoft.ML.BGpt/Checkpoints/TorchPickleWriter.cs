using System.Buffers.Binary;
using System.Collections;
using System.Numerics;
using System.Text;

namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// Emits protocol-2 pickles the way torch.save does: tensors become
/// <c>torch._utils._rebuild_tensor_v2(persistent_id, offset, size, stride, False, OrderedDict())</c> with the
/// persistent id <c>('storage', torch.FloatStorage, key, 'cpu', numel)</c>; each distinct <see cref="TensorData"/>
/// instance gets one storage record, so tied weights stay one storage.
/// </summary>
internal sealed class TorchPickleWriter
{
    private const int BatchSize = 1000; // CPython's batch size for APPENDS/SETITEMS
    private readonly MemoryStream _out = new();
    private readonly Dictionary<TensorData, string> _keys = new(ReferenceEqualityComparer.Instance);

    /// <summary>Storages in key order ("0", "1", ...).</summary>
    public List<(string Key, TensorData Tensor)> Storages { get; } = new();

    public byte[] Pickle(object? root)
    {
        _out.Write([0x80, 2]); // PROTO 2, as torch 1.13 writes
        Write(root);
        _out.WriteByte((byte)'.');
        return _out.ToArray();
    }

    private void Write(object? o)
    {
        switch (o)
        {
            case null: Op('N'); break;
            case bool b: Op(b ? 0x88 : 0x89); break;
            case int i: WriteInt(i); break;
            case long l: WriteInt(l); break;
            case BigInteger big: WriteBig(big); break;
            case float f: WriteDouble(f); break;
            case double d: WriteDouble(d); break;
            case string s: WriteString(s); break;
            case byte[] bytes: WriteBytes(bytes); break;
            case TensorData t: WriteTensor(t); break;
            case object?[] tuple: WriteTuple(tuple); break;
            case PickleDict pd: WriteDict(pd, pd.IsOrderedDict, pd.Attributes); break;
            case IDictionary dict: WriteDict(dict.Cast<DictionaryEntry>().Select(e => new KeyValuePair<object, object?>(e.Key, e.Value)), false, null); break;
            case IEnumerable<KeyValuePair<string, TensorData>> tensors: // e.g. a plain state dict
                WriteDict(tensors.Select(kv => new KeyValuePair<object, object?>(kv.Key, kv.Value)), true, null); break;
            case IList list: WriteList(list.Cast<object?>().ToList()); break;
            default: throw new ArgumentException($"Cannot pickle a {o.GetType().Name}.");
        }
    }

    private void WriteTensor(TensorData t)
    {
        if (!_keys.TryGetValue(t, out var key))
        {
            key = _keys.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _keys[t] = key;
            Storages.Add((key, t));
        }
        Global("torch._utils", "_rebuild_tensor_v2");
        Op('(');
        Op('(');
        WriteString("storage");
        Global("torch", t.DType.TorchStorageName());
        WriteString(key);
        WriteString("cpu");
        WriteInt(t.ElementCount);
        Op('t');
        Op('Q'); // BINPERSID
        WriteInt(0);
        WriteTuple(t.Shape.Cast<object?>().ToArray());
        WriteTuple(StridedGather.ContiguousStrides(t.Shape).Cast<object?>().ToArray());
        Op(0x89); // requires_grad=False
        NewOrderedDict(); // backward_hooks
        Op('t');
        Op('R');
    }

    private void WriteDict(IEnumerable<KeyValuePair<object, object?>> items, bool ordered, PickleDict? attributes)
    {
        if (ordered) NewOrderedDict();
        else Op('}');
        foreach (var batch in items.Chunk(BatchSize))
        {
            if (batch.Length == 1) { Write(batch[0].Key); Write(batch[0].Value); Op('s'); continue; }
            Op('(');
            foreach (var kv in batch) { Write(kv.Key); Write(kv.Value); }
            Op('u');
        }
        if (attributes is not null) { Write(attributes); Op('b'); }
    }

    private void WriteList(List<object?> list)
    {
        Op(']');
        foreach (var batch in list.Chunk(BatchSize))
        {
            if (batch.Length == 1) { Write(batch[0]); Op('a'); continue; }
            Op('(');
            foreach (var item in batch) Write(item);
            Op('e');
        }
    }

    private void WriteTuple(object?[] items)
    {
        if (items.Length == 0) { Op(')'); return; }
        if (items.Length > 3) Op('(');
        foreach (var item in items) Write(item);
        Op(items.Length switch { 1 => 0x85, 2 => 0x86, 3 => 0x87, _ => 't' });
    }

    private void NewOrderedDict()
    {
        Global("collections", "OrderedDict");
        Op(')');
        Op('R');
    }

    private void WriteInt(long v)
    {
        if (v >= 0 && v <= 0xff) { Op('K'); _out.WriteByte((byte)v); }
        else if (v >= 0 && v <= 0xffff) { Op('M'); Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); _out.Write(b); }
        else if (v >= int.MinValue && v <= int.MaxValue) { Op('J'); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); _out.Write(b); }
        else WriteBig(v);
    }

    private void WriteBig(BigInteger v)
    {
        var bytes = v.ToByteArray(isUnsigned: false, isBigEndian: false); // two's complement, as LONG1 wants
        if (bytes.Length < 256) { Op(0x8a); _out.WriteByte((byte)bytes.Length); }
        else { Op(0x8b); Span<byte> n = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(n, bytes.Length); _out.Write(n); }
        _out.Write(bytes);
    }

    private void WriteDouble(double d)
    {
        Op('G');
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(b, d);
        _out.Write(b);
    }

    private void WriteString(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Op('X');
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, bytes.Length);
        _out.Write(n);
        _out.Write(bytes);
    }

    // Protocol 2 has no bytes opcode: Python 3 pickles bytes as _codecs.encode(latin1_text, 'latin1').
    private void WriteBytes(byte[] bytes)
    {
        Global("_codecs", "encode");
        WriteString(Encoding.Latin1.GetString(bytes));
        WriteString("latin1");
        Op(0x86);
        Op('R');
    }

    private void Global(string module, string name) => _out.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    private void Op(int op) => _out.WriteByte((byte)op);
}
