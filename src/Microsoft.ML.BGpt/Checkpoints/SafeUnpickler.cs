using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// A pickle virtual machine (protocols 0-5) that only builds data: dicts, lists, tuples, primitives and, through
/// the allow-listed torch globals of <see cref="PickleGlobals"/>, tensors. Any other global is a typed error.
/// </summary>
/// <remarks>
/// Razorvine.Pickle was the first choice but does not fit: its constructor registry is a process-wide static
/// (TorchSharp.PyBridge registers the same torch names with incompatible constructors), unknown globals silently
/// become placeholder objects with no hook to reject them, and dicts become Hashtables, losing the state dict order.
/// </remarks>
internal sealed class SafeUnpickler
{
    private readonly byte[] _data;
    private readonly Func<object?, object> _persistentLoad;
    private readonly string? _file;
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();
    private int _pos;

    public SafeUnpickler(byte[] data, Func<object?, object> persistentLoad, string? file)
    {
        _data = data;
        _persistentLoad = persistentLoad;
        _file = file;
    }

    /// <summary>Runs the pickle to its STOP opcode and returns the result.</summary>
    public object? Load()
    {
        try
        {
            while (true)
            {
                byte op = ReadByte();
                if (op == (byte)'.') return Pop();
                Step(op);
            }
        }
        catch (BGptCheckpointException) { throw; }
        catch (Exception e)
        {
            // Any low-level failure (truncation, bad types, bad opcodes) becomes one typed error naming the file.
            throw new BGptCheckpointException(_file, $"corrupted pickle at byte {_pos}: {e.Message}", inner: e);
        }
    }

    private void Step(byte op)
    {
        switch (op)
        {
            case 0x80: ReadByte(); break;                       // PROTO
            case 0x95: Read(8); break;                          // FRAME: framing is only a hint
            case (byte)'(': _marks.Push(_stack.Count); break;   // MARK
            case (byte)'N': Push(null); break;
            case 0x88: Push(true); break;
            case 0x89: Push(false); break;
            case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Read(4))); break;
            case (byte)'K': Push((long)ReadByte()); break;
            case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Read(2))); break;
            case 0x8a: Push(DecodeLong(Read(ReadByte()))); break;                                   // LONG1
            case 0x8b: Push(DecodeLong(Read(Length(BinaryPrimitives.ReadInt32LittleEndian(Read(4)))))); break; // LONG4
            case (byte)'I': Push(ParseIntLine(ReadLine())); break;
            case (byte)'L': Push(ParseIntLine(ReadLine().TrimEnd('L'))); break;
            case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Read(8))); break;
            case (byte)'F': Push(double.Parse(ReadLine(), CultureInfo.InvariantCulture)); break;
            case (byte)'X': Push(Utf8(Read(Length(BinaryPrimitives.ReadUInt32LittleEndian(Read(4)))))); break;
            case 0x8c: Push(Utf8(Read(ReadByte()))); break;                                         // SHORT_BINUNICODE
            case 0x8d: Push(Utf8(Read(Length(BinaryPrimitives.ReadInt64LittleEndian(Read(8)))))); break; // BINUNICODE8
            case (byte)'V': Push(ReadLine()); break;            // UNICODE (raw-unicode-escape; ASCII in practice)
            case (byte)'T': Push(Encoding.Latin1.GetString(Read(Length(BinaryPrimitives.ReadInt32LittleEndian(Read(4)))))); break;
            case (byte)'U': Push(Encoding.Latin1.GetString(Read(ReadByte()))); break;
            case (byte)'S': Push(ReadLine().Trim('\'', '"')); break;
            case (byte)'B': Push(Read(Length(BinaryPrimitives.ReadUInt32LittleEndian(Read(4)))).ToArray()); break;
            case (byte)'C': Push(Read(ReadByte()).ToArray()); break;
            case 0x8e: case 0x96: Push(Read(Length(BinaryPrimitives.ReadInt64LittleEndian(Read(8)))).ToArray()); break;
            case (byte)')': Push(Array.Empty<object?>()); break;
            case (byte)'t': Push(PopMark().ToArray()); break;
            case 0x85: Push(new[] { Pop() }); break;
            case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
            case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
            case (byte)']': Push(new List<object?>()); break;
            case (byte)'l': Push(PopMark()); break;
            case (byte)'a': { var v = Pop(); As<List<object?>>(Peek()).Add(v); break; }
            case (byte)'e': { var items = PopMark(); As<List<object?>>(Peek()).AddRange(items); break; }
            case (byte)'}': Push(new PickleDict()); break;
            case (byte)'d': { var d = new PickleDict(); SetItems(d, PopMark()); Push(d); break; }
            case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(As<PickleDict>(Peek()), new List<object?> { k, v }); break; }
            case (byte)'u': { var items = PopMark(); SetItems(As<PickleDict>(Peek()), items); break; }
            case 0x8f: case 0x91: case 0x90:
                throw new InvalidDataException("sets are not supported in checkpoints");
            case (byte)'0': Pop(); break;
            case (byte)'1': PopMark(); break;
            case (byte)'2': Push(Peek()); break;
            case (byte)'p': _memo[ParseIntLine(ReadLine()) is long l ? l : -1] = Peek(); break;
            case (byte)'q': _memo[ReadByte()] = Peek(); break;
            case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Read(4))] = Peek(); break;
            case 0x94: _memo[_memo.Count] = Peek(); break;      // MEMOIZE
            case (byte)'g': Push(Memo(ParseIntLine(ReadLine()) is long gi ? gi : -1)); break;
            case (byte)'h': Push(Memo(ReadByte())); break;
            case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Read(4)))); break;
            case (byte)'c': Push(Global(ReadLine(), ReadLine())); break;
            case 0x93: { var name = As<string>(Pop()); var module = As<string>(Pop()); Push(Global(module, name)); break; }
            case (byte)'R': case 0x81: { var args = As<object?[]>(Pop()); Push(Call(Pop(), args)); break; } // REDUCE, NEWOBJ
            case (byte)'i': { var g = Global(ReadLine(), ReadLine()); Push(Call(g, PopMark().ToArray())); break; } // INST
            case (byte)'o': { var items = PopMark(); Push(Call(items[0], items.Skip(1).ToArray())); break; }       // OBJ
            case (byte)'b': Build(Pop(), Peek()); break;
            case (byte)'Q': Push(_persistentLoad(Pop())); break;
            case (byte)'P': Push(_persistentLoad(ReadLine())); break;
            case 0x82: case 0x83: case 0x84:
                throw new DisallowedPickleGlobalException(_file, "copyreg extension registry (EXT opcode)");
            default:
                throw new InvalidDataException($"unsupported pickle opcode 0x{op:x2}");
        }
    }

    private PickleGlobal Global(string module, string name) =>
        PickleGlobals.Resolve(module, name) ?? throw new DisallowedPickleGlobalException(_file, module + "." + name);

    private static object? Call(object? callable, object?[] args) =>
        callable is PickleGlobal { Invoke: { } f } ? f(args) : throw new InvalidDataException($"{Describe(callable)} is not callable");

    private static void Build(object? state, object? target)
    {
        // torch's OrderedDict state dicts carry their "_metadata" attribute as BUILD state.
        if (target is PickleDict dict && (state is PickleDict || state is null))
            dict.Attributes = (PickleDict?)state;
        else if (state is not null)
            throw new InvalidDataException($"cannot set state of {Describe(target)}");
    }

    private static void SetItems(PickleDict dict, List<object?> items)
    {
        if (items.Count % 2 != 0) throw new InvalidDataException("odd number of dict items");
        for (int i = 0; i < items.Count; i += 2)
            dict[items[i] ?? throw new InvalidDataException("None as dict key is not supported")] = items[i + 1];
    }

    private static object DecodeLong(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0) return 0L;
        var big = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return big >= long.MinValue && big <= long.MaxValue ? (long)big : big;
    }

    private static object ParseIntLine(string line) => line switch
    {
        "01" => true, // protocol 0 spells booleans as INT 01/00
        "00" => false,
        _ => long.TryParse(line, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l
            : BigInteger.Parse(line, CultureInfo.InvariantCulture),
    };

    private object? Memo(long index) =>
        _memo.TryGetValue(index, out var v) ? v : throw new InvalidDataException($"memo entry {index} is missing");

    private static string Describe(object? o) => o switch
    {
        null => "None",
        PickleGlobal g => g.Name,
        _ => o.GetType().Name,
    };

    private static T As<T>(object? o) =>
        o is T t ? t : throw new InvalidDataException($"expected {typeof(T).Name}, found {Describe(o)}");

    private void Push(object? o) => _stack.Add(o);

    private object? Peek() =>
        _stack.Count > 0 && (_marks.Count == 0 || _marks.Peek() < _stack.Count) ? _stack[^1] : throw new InvalidDataException("stack underflow");

    private object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks.Peek() == _stack.Count))
            throw new InvalidDataException("stack underflow");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw new InvalidDataException("MARK missing");
        int start = _marks.Pop();
        var items = _stack.GetRange(start, _stack.Count - start);
        _stack.RemoveRange(start, _stack.Count - start);
        return items;
    }

    private byte ReadByte() => _pos < _data.Length ? _data[_pos++] : throw new EndOfStreamException("pickle data ends early");

    private ReadOnlySpan<byte> Read(int count)
    {
        if (count < 0 || count > _data.Length - _pos) throw new EndOfStreamException("pickle data ends early");
        var span = _data.AsSpan(_pos, count);
        _pos += count;
        return span;
    }

    private static int Length(long n) => n >= 0 && n <= int.MaxValue ? (int)n : throw new InvalidDataException($"bad length {n}");

    private string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw new EndOfStreamException("pickle data ends early");
        var s = Utf8(_data.AsSpan(_pos, end - _pos));
        _pos = end + 1;
        return s;
    }

    private static string Utf8(ReadOnlySpan<byte> b) => Encoding.UTF8.GetString(b);
}
