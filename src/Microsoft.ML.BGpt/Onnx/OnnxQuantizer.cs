using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.BGpt.Onnx;

/// <summary>Settings of <see cref="OnnxQuantizer.QuantizeDynamic(byte[], OnnxQuantizationOptions?)"/>.</summary>
public sealed record OnnxQuantizationOptions
{
    /// <summary>
    /// One int8 scale per output column of each weight matrix (default, more accurate) instead of one per matrix.
    /// </summary>
    public bool PerColumn { get; init; } = true;

    /// <summary>Weight matrices with fewer elements stay float32 (tiny ones gain nothing). Default 4096.</summary>
    public long MinimumElements { get; init; } = 4096;

    /// <summary>
    /// Weight initializers (by name, e.g. <c>patch_level_decoder.base.h.0.mlp.c_fc.weight</c>) to keep in float32;
    /// null quantizes every eligible one.
    /// </summary>
    public Func<string, bool>? Keep { get; init; }

    /// <summary>
    /// Weights in 7 bits (±63) instead of 8 (±127), ONNX Runtime's <c>reduce_range</c>. On x86 CPUs without VNNI, ONNX
    /// Runtime's u8·s8 kernels add pairs of products in 16 bits, which overflow with 8-bit weights: on an AVX2-only AMD
    /// EPYC the test model's features moved by up to 0.22 (0.05 allowed), against 0.02 with VNNI. null (the default)
    /// decides for the CPU that quantizes (<see cref="OnnxQuantizer.CpuNeedsReducedRange"/>); set it when the model
    /// will be served on other CPUs.
    /// </summary>
    public bool? ReduceRange { get; init; }
}

/// <summary>What <see cref="OnnxQuantizer"/> changed.</summary>
/// <param name="QuantizedMatMuls">MatMul nodes rewritten to int8.</param>
/// <param name="FloatWeightBytes">Bytes of the float32 weights that were replaced.</param>
/// <param name="QuantizedWeightBytes">Bytes of their int8 weights and float32 scales.</param>
public sealed record OnnxQuantizationReport(int QuantizedMatMuls, long FloatWeightBytes, long QuantizedWeightBytes);

/// <summary>
/// Dynamic int8 quantization of an ONNX model's weight matrix multiplications, as a post-processing of the exported
/// graph (ONNX Runtime's <c>quantize_dynamic</c> scheme, in C#): each <c>MatMul(x, W)</c> whose <c>W</c> is a 2-D
/// float32 initializer becomes
/// <c>DynamicQuantizeLinear(x) → MatMulInteger(x_q, W_q, x_zero_point) → Cast(float) → Mul(x_scale · W_scale)</c>,
/// with <c>W_q</c> symmetric int8 (zero point 0; per output column scales by default) and the activations quantized
/// to uint8 on the fly, per tensor. ONNX Runtime fuses the pattern into one int8 GEMM (DynamicQuantizeMatMul /
/// MatMulIntegerToFloat), which uses VNNI where the CPU has it.
/// </summary>
/// <remarks>
/// <para>MatMuls of two activations (attention scores and weighted sums) stay float32, as do Gather tables (the
/// patch embedding), Gemm (the classifier head), LayerNorm and everything else. Only standard-domain operators
/// (opset 10 and later) are written.</para>
/// <para>Accuracy: int8 weights and per-tensor uint8 activations cost roughly two decimal digits; see
/// docs/benchmarks.md for the measured difference in bGPT features, logits and bits per byte.</para>
/// <para>On x86 CPUs without VNNI, ONNX Runtime's u8·s8 kernels can saturate intermediate sums (their docs advise
/// <c>reduce_range</c> there): <see cref="OnnxQuantizationOptions.ReduceRange"/> quantizes weights to 7 bits, by default
/// where the quantizing CPU lacks VNNI.</para>
/// </remarks>
public static class OnnxQuantizer
{
    /// <summary>Metadata key written into quantized models.</summary>
    public const string MetadataKey = "bgpt.quantization";

    /// <summary>
    /// Whether this CPU is x86 without VNNI (AVX-VNNI, AVX512-VNNI or AVX10), where ONNX Runtime's int8 GEMMs need 7-bit
    /// weights (<see cref="OnnxQuantizationOptions.ReduceRange"/>). AVX512-VNNI alone has no .NET intrinsic class, so
    /// Linux's CPU flags are read for it; elsewhere such a CPU counts as without VNNI (7 bits: safe, slightly coarser).
    /// </summary>
    public static bool CpuNeedsReducedRange { get; } = X86Base.IsSupported && !(AvxVnni.IsSupported || Avx10v1.IsSupported || LinuxCpuFlag("avx512_vnni"));

    private static bool LinuxCpuFlag(string flag)
    {
        try
        {
            return OperatingSystem.IsLinux() && File.ReadLines("/proc/cpuinfo")
                .FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ').Contains(flag) == true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>Quantizes a serialized ONNX model; the input is not changed.</summary>
    public static byte[] QuantizeDynamic(byte[] onnx, OnnxQuantizationOptions? options = null) => QuantizeDynamic(onnx, options, out _);

    /// <summary>Quantizes a serialized ONNX model and tells what changed.</summary>
    public static byte[] QuantizeDynamic(byte[] onnx, OnnxQuantizationOptions? options, out OnnxQuantizationReport report)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        var model = ModelProto.Parser.ParseFrom(onnx);
        report = QuantizeDynamic(model, options);
        return model.ToByteArray();
    }

    /// <summary>Quantizes <paramref name="model"/> in place.</summary>
    internal static OnnxQuantizationReport QuantizeDynamic(ModelProto model, OnnxQuantizationOptions? options)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxQuantizationOptions();
        bool reduceRange = options.ReduceRange ?? CpuNeedsReducedRange;
        var graph = model.Graph ?? throw new ArgumentException("The model has no graph.", nameof(model));
        if (model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max() < 10)
            throw new ArgumentException("Dynamic quantization needs default-domain opset 10 or later (MatMulInteger).", nameof(model));

        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var input in node.Input) uses[input] = uses.GetValueOrDefault(input) + 1;
        foreach (var output in graph.Output) uses[output.Name] = uses.GetValueOrDefault(output.Name) + 1;

        var names = new HashSet<string>(graph.Node.SelectMany(n => n.Output.Concat(new[] { n.Name })).Concat(initializers.Keys)
            .Concat(graph.Input.Select(i => i.Name)), StringComparer.Ordinal);
        string Unique(string hint)
        {
            var name = hint;
            for (int i = 1; names.Contains(name); i++) name = $"{hint}_{i}";
            names.Add(name);
            return name;
        }

        var quantizedWeights = new Dictionary<string, (string Weight, string Scale)>(StringComparer.Ordinal);
        var quantizedInputs = new Dictionary<string, (string Q, string Scale, string ZeroPoint)>(StringComparer.Ordinal);
        var newNodes = new List<NodeProto>(graph.Node.Count * 2);
        int rewritten = 0;
        long floatBytes = 0, quantizedBytes = 0;

        foreach (var node in graph.Node)
        {
            if (!IsEligible(node, initializers, options, out var weight))
            {
                newNodes.Add(node);
                continue;
            }

            if (!quantizedWeights.TryGetValue(weight.Name, out var qw))
            {
                var (q, scales) = QuantizeWeight(weight, options.PerColumn, reduceRange ? 63f : 127f);
                var qt = new TensorProto { Name = Unique(weight.Name + "_quantized"), DataType = (int)DataType.Int8, RawData = UnsafeByteOperations.UnsafeWrap(q) };
                qt.Dims.AddRange(weight.Dims);
                var st = new TensorProto { Name = Unique(weight.Name + "_scale"), DataType = (int)DataType.Float };
                if (options.PerColumn) st.Dims.Add(scales.Length);
                st.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(scales.AsSpan()));
                graph.Initializer.Add(qt);
                graph.Initializer.Add(st);
                quantizedWeights[weight.Name] = qw = (qt.Name, st.Name);
                floatBytes += q.Length * 4L;
                quantizedBytes += q.Length + scales.Length * 4L;
            }

            var x = node.Input[0];
            if (!quantizedInputs.TryGetValue(x, out var qx))
            {
                var stem = Unique(x + "_dq");
                qx = (Unique(stem + "_q"), Unique(stem + "_scale"), Unique(stem + "_zero_point"));
                newNodes.Add(MakeNode("DynamicQuantizeLinear", stem, [x], [qx.Q, qx.Scale, qx.ZeroPoint]));
                quantizedInputs[x] = qx;
            }

            var stemNode = Unique((string.IsNullOrEmpty(node.Name) ? node.Output[0] : node.Name) + "_int8");
            var integer = Unique(stemNode + "_i32");
            var scale = Unique(stemNode + "_scale");
            var asFloat = Unique(stemNode + "_f32");
            newNodes.Add(MakeNode("MatMulInteger", stemNode, [qx.Q, qw.Weight, qx.ZeroPoint], [integer]));
            newNodes.Add(MakeNode("Mul", stemNode + "_scale_mul", [qx.Scale, qw.Scale], [scale]));
            var cast = MakeNode("Cast", stemNode + "_cast", [integer], [asFloat]);
            cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)DataType.Float });
            newNodes.Add(cast);
            newNodes.Add(MakeNode("Mul", stemNode + "_output_mul", [asFloat, scale], [node.Output[0]]));
            rewritten++;
            uses[weight.Name]--;
        }

        graph.Node.Clear();
        graph.Node.AddRange(newNodes);
        // Drop float weights nothing reads any more.
        var unused = quantizedWeights.Keys.Where(k => uses.GetValueOrDefault(k) <= 0).ToHashSet(StringComparer.Ordinal);
        if (unused.Count > 0)
        {
            var keep = graph.Initializer.Where(t => !unused.Contains(t.Name)).ToList();
            graph.Initializer.Clear();
            graph.Initializer.AddRange(keep);
        }
        else floatBytes = 0; // nothing was removed

        if (rewritten > 0)
        {
            var existing = model.MetadataProps.FirstOrDefault(p => p.Key == MetadataKey);
            if (existing is not null) model.MetadataProps.Remove(existing);
            model.MetadataProps.Add(new StringStringEntryProto
            {
                Key = MetadataKey,
                Value = $"dynamic int8: {rewritten} MatMul(x, W) as DynamicQuantizeLinear + MatMulInteger, int8 symmetric weights{(reduceRange ? " in 7 bits (reduced range)" : "")} {(options.PerColumn ? "per column" : "per tensor")}, uint8 activations per tensor",
            });
        }
        return new OnnxQuantizationReport(rewritten, floatBytes, quantizedBytes);
    }

    private static bool IsEligible(NodeProto node, Dictionary<string, TensorProto> initializers, OnnxQuantizationOptions options, out TensorProto weight)
    {
        weight = null!;
        if (node.OpType != "MatMul" || node.Domain is not ("" or "ai.onnx") || node.Input.Count != 2 || node.Output.Count != 1) return false;
        if (initializers.ContainsKey(node.Input[0])) return false;                        // constant x: nothing to gain
        if (!initializers.TryGetValue(node.Input[1], out var w)) return false;
        if (w.DataType != (int)DataType.Float || w.Dims.Count != 2 || w.Dims[0] * w.Dims[1] < Math.Max(1, options.MinimumElements)) return false;
        if (w.DataLocation == TensorProto.Types.DataLocation.External) return false;
        if (options.Keep?.Invoke(w.Name) == true) return false;
        weight = w;
        return true;
    }

    /// <summary>Symmetric int8: q = round(w / s), s = max|w| / qmax (127, or 63 with reduced range) over each column (or the whole matrix).</summary>
    private static (byte[] Quantized, float[] Scales) QuantizeWeight(TensorProto weight, bool perColumn, float qmax)
    {
        int rows = checked((int)weight.Dims[0]), columns = checked((int)weight.Dims[1]);
        var w = Floats(weight, (long)rows * columns);
        var scales = new float[perColumn ? columns : 1];
        if (perColumn)
        {
            var max = new float[columns];
            for (int r = 0; r < rows; r++)
            {
                var row = w.AsSpan(r * columns, columns);
                for (int c = 0; c < columns; c++) max[c] = MathF.Max(max[c], MathF.Abs(row[c]));
            }
            for (int c = 0; c < columns; c++) scales[c] = max[c] > 0 && float.IsFinite(max[c]) ? max[c] / qmax : 1f;
        }
        else
        {
            float max = 0;
            foreach (var v in w) max = MathF.Max(max, MathF.Abs(v));
            scales[0] = max > 0 && float.IsFinite(max) ? max / qmax : 1f;
        }

        var q = new byte[w.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
            {
                int i = r * columns + c;
                float v = MathF.Round(w[i] / scales[perColumn ? c : 0], MidpointRounding.ToEven);
                q[i] = unchecked((byte)(sbyte)Math.Clamp(float.IsNaN(v) ? 0f : v, -qmax, qmax));
            }
        return (q, scales);
    }

    private static float[] Floats(TensorProto t, long count)
    {
        var result = new float[count];
        if (!t.RawData.IsEmpty)
        {
            if (t.RawData.Length != count * 4) throw new ArgumentException($"Initializer '{t.Name}' has {t.RawData.Length} raw bytes for {count} floats.");
            t.RawData.Span.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
            if (!BitConverter.IsLittleEndian)
            {
                var bytes = MemoryMarshal.AsBytes(result.AsSpan());
                for (int i = 0; i < bytes.Length; i += 4) bytes.Slice(i, 4).Reverse();
            }
        }
        else
        {
            if (t.FloatData.Count != count) throw new ArgumentException($"Initializer '{t.Name}' has {t.FloatData.Count} floats, expected {count}.");
            t.FloatData.CopyTo(result, 0);
        }
        return result;
    }

    private static NodeProto MakeNode(string op, string name, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }
}
