using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.BGpt.Checkpoints;
using Onnx;

namespace Microsoft.ML.BGpt.Onnx;

/// <summary>
/// A small helper that appends nodes, initializers, inputs and outputs to an ONNX graph, giving every value and
/// node a unique name under the current scope ("patch/h.0/attn/MatMul"). Values are referred to by name.
/// Only standard ONNX domain operators are emitted.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly Dictionary<string, int> _used = new(StringComparer.Ordinal);
    private readonly Stack<string> _scopes = new();
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);

    public OnnxGraphBuilder(string name, int opset)
    {
        Graph = new GraphProto { Name = name };
        Opset = opset;
    }

    public GraphProto Graph { get; }

    /// <summary>The default-domain opset the graph targets (decides a few operator signatures).</summary>
    public int Opset { get; }

    // ---------- naming ----------

    /// <summary>Names created until the returned scope is disposed are prefixed with <paramref name="name"/>.</summary>
    public IDisposable Scope(string name)
    {
        _scopes.Push(name);
        return new PopScope(_scopes);
    }

    /// <summary>A name not used before, under the current scope.</summary>
    public string Unique(string hint)
    {
        var full = _scopes.Count == 0 ? hint : string.Join('/', _scopes.Reverse()) + "/" + hint;
        if (_used.TryGetValue(full, out int n))
        {
            _used[full] = n + 1;
            string candidate;
            do candidate = $"{full}_{n++}"; while (_used.ContainsKey(candidate));
            _used[candidate] = 1;
            return candidate;
        }
        _used[full] = 1;
        return full;
    }

    private void Reserve(string exactName)
    {
        if (_used.ContainsKey(exactName)) throw new InvalidOperationException($"ONNX value name '{exactName}' is used twice.");
        _used[exactName] = 1;
    }

    private sealed class PopScope(Stack<string> scopes) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            scopes.Pop();
        }
    }

    // ---------- graph interface ----------

    /// <summary>Declares a graph input; dimensions are <see cref="long"/> values or <see cref="string"/> symbols.</summary>
    public string Input(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        Reserve(name);
        Graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>Makes <paramref name="value"/> a graph output called <paramref name="name"/> (through Identity when renamed).</summary>
    public void Output(string value, string name, TensorProto.Types.DataType type, params object[] dims)
    {
        if (value != name)
        {
            Reserve(name);
            Graph.Node.Add(new NodeProto { OpType = "Identity", Name = Unique(name + "_identity"), Input = { value }, Output = { name } });
        }
        Graph.Output.Add(ValueInfo(name, type, dims));
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d switch
            {
                long v => new TensorShapeProto.Types.Dimension { DimValue = v },
                int v => new TensorShapeProto.Types.Dimension { DimValue = v },
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                _ => throw new ArgumentException($"Dimension {d} must be a number or a symbol."),
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    // ---------- initializers and constants ----------

    /// <summary>A float32 initializer (the weights); the floats are written as raw little-endian bytes.</summary>
    public string Initializer(string hint, float[] values, params long[] dims)
    {
        if (TensorData.CountElements(dims) != values.LongLength)
            throw new ArgumentException($"{values.Length} floats do not fill shape [{string.Join(", ", dims)}].");
        var bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        if (!BitConverter.IsLittleEndian) ReverseEach(bytes, 4);
        return RawFloatInitializer(hint, bytes, dims);
    }

    /// <summary>A float32 initializer over little-endian bytes, which are not copied (the caller must not change them).</summary>
    public string RawFloatInitializer(string hint, byte[] littleEndianFloats, params long[] dims)
    {
        if (TensorData.CountElements(dims) * 4 != littleEndianFloats.LongLength)
            throw new ArgumentException($"{littleEndianFloats.Length} bytes do not hold float32 shape [{string.Join(", ", dims)}].");
        var name = Unique(hint);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.RawData = UnsafeByteOperations.UnsafeWrap(littleEndianFloats);
        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>A named int64 initializer (a lookup table), stored raw.</summary>
    public string Int64Initializer(string hint, long[] values, params long[] dims)
    {
        var name = Unique(hint);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        var bytes = new byte[values.Length * sizeof(long)];
        for (int i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * sizeof(long)), values[i]);
        tensor.RawData = UnsafeByteOperations.UnsafeWrap(bytes);
        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>An int64 constant (shapes, axes, indices), shared between identical uses.</summary>
    public string Int64s(params long[] values) => Int64Tensor(values, [values.Length]);

    /// <summary>An int64 scalar constant.</summary>
    public string Int64Scalar(long value) => Int64Tensor([value], []);

    private string Int64Tensor(long[] values, long[] dims)
    {
        var key = $"i64[{string.Join(",", dims)}]:{string.Join(",", values)}";
        if (_constants.TryGetValue(key, out var existing)) return existing;
        var name = UniqueGlobal("const_i64");
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        Graph.Initializer.Add(tensor);
        return _constants[key] = name;
    }

    /// <summary>A float32 scalar constant, shared between identical uses.</summary>
    public string FloatScalar(float value)
    {
        var key = $"f32:{BitConverter.SingleToInt32Bits(value)}";
        if (_constants.TryGetValue(key, out var existing)) return existing;
        var name = UniqueGlobal("const_f32");
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.FloatData.Add(value);
        Graph.Initializer.Add(tensor);
        return _constants[key] = name;
    }

    private string UniqueGlobal(string hint)
    {
        var saved = _scopes.ToArray();
        _scopes.Clear();
        try { return Unique(hint); }
        finally { foreach (var s in saved.Reverse()) _scopes.Push(s); }
    }

    private static void ReverseEach(byte[] bytes, int size)
    {
        for (int i = 0; i < bytes.Length; i += size) Array.Reverse(bytes, i, size);
    }

    // ---------- nodes ----------

    /// <summary>Appends a node with one output and returns the output's name.</summary>
    public string Node(string opType, string[] inputs, params (string Name, object Value)[] attributes) =>
        Node(opType, inputs, 1, attributes)[0];

    /// <summary>Appends a node with <paramref name="outputs"/> outputs and returns their names.</summary>
    public string[] Node(string opType, string[] inputs, int outputs, params (string Name, object Value)[] attributes)
    {
        var nodeName = Unique(opType);
        var node = new NodeProto { OpType = opType, Name = nodeName };
        node.Input.AddRange(inputs);
        var names = new string[outputs];
        for (int i = 0; i < outputs; i++) names[i] = outputs == 1 ? nodeName + "_out" : $"{nodeName}_out{i}";
        foreach (var n in names) Reserve(n);
        node.Output.AddRange(names);
        foreach (var (name, value) in attributes) node.Attribute.Add(Attribute(name, value));
        Graph.Node.Add(node);
        return names;
    }

    private static AttributeProto Attribute(string name, object value) => value switch
    {
        long v => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v },
        int v => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v },
        float v => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v },
        double v => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)v },
        string v => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) },
        long[] v => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { v } },
        _ => throw new ArgumentException($"Unsupported attribute value {value} for '{name}'."),
    };

    // ---------- operator shorthands (shapes are the caller's comments) ----------

    public string Add(string a, string b) => Node("Add", [a, b]);
    public string Sub(string a, string b) => Node("Sub", [a, b]);
    public string Mul(string a, string b) => Node("Mul", [a, b]);
    public string Div(string a, string b) => Node("Div", [a, b]);
    public string Min(string a, string b) => Node("Min", [a, b]);
    public string Max(string a, string b) => Node("Max", [a, b]);
    public string Neg(string x) => Node("Neg", [x]);
    public string MatMul(string a, string b) => Node("MatMul", [a, b]);
    public string Cast(string x, TensorProto.Types.DataType to) => Node("Cast", [x], ("to", (long)to));
    public string Shape(string x) => Node("Shape", [x]);
    public string Reshape(string x, string shape) => Node("Reshape", [x, shape]);
    public string Reshape(string x, params long[] shape) => Reshape(x, Int64s(shape));
    public string Transpose(string x, params long[] perm) => Node("Transpose", [x], ("perm", perm));
    public string Concat(long axis, params string[] inputs) => Node("Concat", inputs, ("axis", axis));
    public string Gather(string data, string indices, long axis = 0) => Node("Gather", [data, indices], ("axis", axis));
    public string Softmax(string x, long axis = -1) => Node("Softmax", [x], ("axis", axis));
    public string LogSoftmax(string x, long axis = -1) => Node("LogSoftmax", [x], ("axis", axis));
    public string Where(string condition, string a, string b) => Node("Where", [condition, a, b]);
    public string LessOrEqual(string a, string b) => Node("LessOrEqual", [a, b]);

    /// <summary>Slice with int64 tensors (names) for starts and ends on the given constant axes.</summary>
    public string Slice(string x, string starts, string ends, params long[] axes) => Node("Slice", [x, starts, ends, Int64s(axes)]);

    /// <summary>Slice with constant bounds.</summary>
    public string Slice(string x, long[] starts, long[] ends, long[] axes) => Slice(x, Int64s(starts), Int64s(ends), axes);

    public string ReduceSum(string x, long[] axes, bool keepDims) =>
        Node("ReduceSum", [x, Int64s(axes)], ("keepdims", keepDims ? 1L : 0L)); // axes are an input since opset 13

    /// <summary>ReduceMean over <paramref name="axes"/>, or over everything when null (axes became an input in opset 18).</summary>
    public string ReduceMean(string x, long[]? axes, bool keepDims)
    {
        var keep = ("keepdims", (object)(keepDims ? 1L : 0L));
        if (axes is null) return Node("ReduceMean", [x], keep);
        return Opset >= 18 ? Node("ReduceMean", [x, Int64s(axes)], keep) : Node("ReduceMean", [x], keep, ("axes", axes));
    }

    public string LayerNormalization(string x, string scale, string bias, float epsilon) =>
        Node("LayerNormalization", [x, scale, bias], ("axis", -1L), ("epsilon", epsilon));

    /// <summary>Splits along <paramref name="axis"/> into pieces of the given sizes (split sizes are an input since opset 13).</summary>
    public string[] Split(string x, long axis, params long[] sizes) =>
        Node("Split", [x, Int64s(sizes)], sizes.Length, ("axis", axis));
}
