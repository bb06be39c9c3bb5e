using Google.Protobuf;
using Microsoft.ML.BGpt.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>
/// The plain matmul rate of each engine in this run, the denominator of every row's efficiency: TorchSharp
/// <c>matmul</c> of two 2048² tensors (fp32, bf16), and ONNX Runtime running a one-node MatMul graph (x [n, n] times a
/// constant initializer, as the model's weights are) built with the OnnxSharp protobuf classes, in fp32 and after
/// <see cref="OnnxQuantizer"/> (dynamic int8).
/// </summary>
internal static class MatmulBench
{
    public const int N = 2048;

    public static void Run(BenchOptions o, Report report, bool end = false)
    {
        References.Initialize();
        string when = end ? "2048³, end of run" : "2048³";
        double flop = Flops.Matmul(N);
        using (no_grad())
        {
            manual_seed(0);
            using var a = randn(N, N);
            using var b = randn(N, N);
            var fp32 = Measure.Time(o, () => { using var c = a.matmul(b); }, maxRuns: o.Quick ? 5 : 10, budget: o.Quick ? 1.5 : 4);
            if (!end) report.SetMatmulRate("TorchSharp", flop / fp32.Median);
            report.Add(new Row("matmul", "—", "TorchSharp", "torch.matmul", "fp32", when, fp32, flop, Notes: "efficiency denominator of TorchSharp rows"));

            if (!Bf16.Runs)
                report.Add(new Row("matmul", "—", "TorchSharp", "torch.matmul", "bf16", when, null, flop, Notes: Bf16.Skipped));
            else
            {
                using var a16 = a.to_type(ScalarType.BFloat16);
                using var b16 = b.to_type(ScalarType.BFloat16);
                var bf16 = Measure.Time(o, () => { using var c = a16.matmul(b16); }, maxRuns: o.Quick ? 5 : 10, budget: o.Quick ? 1.5 : 4);
                report.Add(new Row("matmul", "—", "TorchSharp", "torch.matmul", "bf16", when, bf16, flop,
                    Notes: $"{fp32.Median / bf16.Median:0.00}× fp32"));
                report.Values["torch.bf16.matmul"] = flop / bf16.Median;
            }
        }

        var model = MatmulModel(N, N, N, seed: 1);
        var ortFp32 = TimeOrt(o, model, N, N, out var _);
        if (!end) report.SetMatmulRate("ORT", flop / ortFp32.Median);
        report.Add(new Row("matmul", "—", "ORT", "InferenceSession.Run (1-node graph)", "fp32", when, ortFp32, flop, Notes: "efficiency denominator of ORT rows"));

        var quantized = OnnxQuantizer.QuantizeDynamic(model);
        var ortInt8 = TimeOrt(o, quantized, N, N, out _);
        report.Add(new Row("matmul", "—", "ORT", "InferenceSession.Run (quantized graph)", "int8 dyn.", when, ortInt8, flop,
            Notes: $"{ortFp32.Median / ortInt8.Median:0.00}× fp32 (DynamicQuantizeLinear + MatMulInteger, fused by ORT)"));
        report.Values["ort.int8.matmul"] = flop / ortInt8.Median;
    }

    /// <summary>A graph y = x · W with x float [m, k] an input and W float [k, n] a random initializer.</summary>
    public static byte[] MatmulModel(int m, int k, int n, int seed)
    {
        var rng = new Random(seed);
        var w = new float[(long)k * n];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1) * 0.05f;
        var weight = new TensorProto { Name = "W", DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.AsSpan())) };
        weight.Dims.Add(k);
        weight.Dims.Add(n);
        var graph = new GraphProto { Name = "matmul" };
        graph.Initializer.Add(weight);
        graph.Input.Add(Value("x", m, k));
        graph.Output.Add(Value("y", m, n));
        var node = new NodeProto { OpType = "MatMul", Name = "matmul" };
        node.Input.Add("x");
        node.Input.Add("W");
        node.Output.Add("y");
        graph.Node.Add(node);
        var model = new ModelProto { IrVersion = 8, ProducerName = "Microsoft.ML.BGpt.Benchmarks", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model.ToByteArray();
    }

    private static ValueInfoProto Value(string name, long rows, long columns)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = rows });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = columns });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } } };
    }

    /// <summary>
    /// Session options of every ONNX Runtime row: intra-op threads = every core, as the library's pipelines set them
    /// (ONNX Runtime's own default chose 1 thread on this 2-core VM), one inter-op thread.
    /// </summary>
    public static SessionOptions OrtOptions(int? threads = null) =>
        new() { IntraOpNumThreads = Microsoft.ML.BGpt.MLNet.OnnxPipeline.IntraOpThreads(threads), InterOpNumThreads = 1 };

    /// <summary>Times session.Run of a graph with one float input x [m, k] (<see cref="OrtOptions"/>).</summary>
    public static Stats TimeOrt(BenchOptions o, byte[] model, int m, int k, out float[] output, int? threads = null, double? budget = null)
    {
        using var options = OrtOptions(threads);
        using var session = new InferenceSession(model, options);
        var rng = new Random(2);
        var x = new float[(long)m * k];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var input = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [m, k])) };
        var stats = Measure.Time(o, () => { using var results = session.Run(input); }, maxRuns: o.Quick ? 5 : 10, budget: budget ?? (o.Quick ? 1.5 : 4));
        using (var results = session.Run(input)) output = results[0].AsTensor<float>().ToArray();
        return stats;
    }
}

/// <summary>The paired reference matmuls (see <see cref="Measure.Reference"/>): one 2048³ fp32 product per call, in seconds.</summary>
internal static class References
{
    private static TorchSharp.torch.Tensor? _a, _b;
    private static InferenceSession? _session;
    private static List<NamedOnnxValue>? _input;

    /// <summary>Creates the operands (outside any autograd mode).</summary>
    public static void Initialize()
    {
        using (no_grad())
        {
            manual_seed(5);
            _a ??= randn(MatmulBench.N, MatmulBench.N).DetachFromDisposeScope();
            _b ??= randn(MatmulBench.N, MatmulBench.N).DetachFromDisposeScope();
        }
        if (_session is null)
        {
            using var options = MatmulBench.OrtOptions();
            _session = new InferenceSession(MatmulBench.MatmulModel(MatmulBench.N, MatmulBench.N, MatmulBench.N, seed: 1), options);
            var x = new float[MatmulBench.N * MatmulBench.N];
            for (int i = 0; i < x.Length; i++) x[i] = (i % 17) * 0.01f - 0.08f;
            _input = [NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [MatmulBench.N, MatmulBench.N]))];
            using var warm = _session.Run(_input);
        }
    }

    public static double Torch()
    {
        Initialize();
        using var guard = no_grad();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using (var c = _a!.matmul(_b!)) { }
        return sw.Elapsed.TotalSeconds;
    }

    public static double Ort()
    {
        Initialize();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using (var r = _session!.Run(_input!)) { }
        return sw.Elapsed.TotalSeconds;
    }
}
