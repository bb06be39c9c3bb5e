using Microsoft.ML.BGpt.Checkpoints;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.BGpt.Onnx;

// The graph builder and weight access behind BGptOnnxExporter.Export (the public surface is in BGptOnnxExporter.cs).
public static partial class BGptOnnxExporter
{
    /// <summary>The graph, block by block (nanoGPT style). Shapes in comments: N patches, P patch size, H hidden.</summary>
    private sealed class Exporter(OnnxGraphBuilder b, WeightSource w, BGptConfig cfg, BGptOnnxOptions options)
    {
        private const string PatchPrefix = "patch_level_decoder.";
        private const string BytePrefix = "byte_level_decoder.base.transformer.";
        private const string LmHead = "byte_level_decoder.base.lm_head.weight";

        public OnnxGraphBuilder Builder => b;
        private int P => cfg.PatchSize;
        private int H => cfg.HiddenSize;
        private int L => cfg.PatchLength;
        private const int V = BGptConfig.SpecialToken + 1;

        public void Build()
        {
            // Read the head's weights first, so a missing classifier or byte decoder is reported before any work.
            var labels = options.Head == OnnxHead.Classifier ? w.Get("classifier.weight").Shape.FirstOrDefault() : 0;
            if (options.Head == OnnxHead.Classifier && options.Labels is not null && options.Labels.Count != labels)
                throw new BGptCheckpointException(w.Source, $"{options.Labels.Count} labels given but the classifier has {labels} outputs.", "classifier.weight");

            var bytes = b.Input(BytesInput, DataType.Uint8, 1L, "n");
            var extension = b.Input(ExtensionInput, DataType.Uint8, 1L, "e");
            string tokens, patches, hidden, features;
            if (options.LongFiles == LongFileStrategy.WindowMean)
            {
                string validPatches;
                using (b.Scope("windows")) (patches, validPatches) = EncodeWindows(bytes, extension); // [W, T, P], [W, 1]
                using (b.Scope("patch")) hidden = PatchLevelDecoder(patches);           // [W, T, H]
                using (b.Scope("pool")) features = PoolWindows(hidden, validPatches);   // [1, H]
            }
            else
            {
                using (b.Scope("encode")) tokens = Encode(bytes, extension);           // [N * P] int64
                patches = b.Reshape(tokens, 1, -1, P);                                  // [1, N, P]
                using (b.Scope("patch")) hidden = PatchLevelDecoder(patches);           // [1, N, H]
                using (b.Scope("pool")) features = options.Pooling == FeaturePooling.LastPatch
                    ? b.Node("Squeeze", [b.Slice(hidden, [-1], [long.MaxValue], [1]), b.Int64s(1)]) // [1, H]
                    : b.ReduceMean(hidden, [1], keepDims: false);                       // [1, H]
            }
            b.Output(features, FeaturesOutput, DataType.Float, 1L, (long)H);
            if (options.IncludeLastHiddenState) b.Output(hidden, LastHiddenStateOutput, DataType.Float, 1L, "patches", (long)H);

            switch (options.Head)
            {
                case OnnxHead.Classifier:
                    using (b.Scope("classifier"))
                    {
                        var (logits, probabilities) = Classifier(features, labels);
                        b.Output(logits, LogitsOutput, DataType.Float, 1L, labels);
                        b.Output(probabilities, ProbabilitiesOutput, DataType.Float, 1L, labels);
                    }
                    break;
                case OnnxHead.BitsPerByte:
                    using (b.Scope("byte"))
                    {
                        var (loss, bpb) = BitsPerByte(hidden, patches);
                        b.Output(loss, LossOutput, DataType.Float, 1L);
                        b.Output(bpb, BitsPerByteOutput, DataType.Float, 1L);
                    }
                    break;
            }
        }

        // ---------- byte encoding (ByteEncoder.Encode) ----------

        /// <summary>bytes [1, n] uint8, extension [1, e] uint8 -> tokens [N * P] int64 in 0..256.</summary>
        private string Encode(string bytes, string extension)
        {
            long p = P;
            var pad = b.Int64s(Enumerable.Repeat((long)BGptConfig.SpecialToken, 2 * P).ToArray()); // [2P] of 256
            var ext = b.Node("Squeeze", [b.Cast(extension, DataType.Int64), b.Int64s(0)]);       // [e]
            var extPatch = b.Slice(b.Concat(0, ext, pad), [0], [p], [0]);                      // [P]: cut, padded with 256
            var content = b.Node("Squeeze", [b.Cast(bytes, DataType.Int64), b.Int64s(0)]);     // [n]
            var n = b.Shape(content);                                                           // [1]
            var patchCount = b.Add(b.Div(b.Add(n, b.Int64s(p - 1)), b.Int64s(p)), b.Int64s(2)); // [1] T = ceil(n / P) + 2
            // Extension patch, content padded with 256 to whole patches, the all-256 end patch: T * P tokens.
            var full = b.Slice(b.Concat(0, extPatch, content, pad), b.Int64s(0), b.Mul(patchCount, b.Int64s(p)), 0); // [T * P]

            long budget = L * p;
            switch (options.Truncation)
            {
                case TruncationStrategy.Head:                                                  // first L patches
                    return b.Slice(full, [0], [budget], [0]);
                case TruncationStrategy.Tail:                                                  // last L patches
                    return b.Slice(full, [-budget], [long.MaxValue], [0]);
                default:                                                                       // HeadTail
                    long head = (L + 1) / 2, tail = L - head;
                    var fits = b.LessOrEqual(patchCount, b.Int64s(L));                         // [1] bool
                    // Fits: everything, then nothing. Otherwise the first `head` and the last `tail` patches.
                    var headEnd = b.Where(fits, b.Int64s(long.MaxValue), b.Int64s(head * p));
                    var tailStart = b.Where(fits, b.Int64s(long.MaxValue), b.Int64s(-tail * p));
                    return b.Concat(0, b.Slice(full, b.Int64s(0), headEnd, 0), b.Slice(full, tailStart, b.Int64s(long.MaxValue), 0));
            }
        }

        // ---------- window mean ----------

        /// <summary>
        /// bytes [1, n], extension [1, e] -> patches [M, T, P] int64 of the M averaged windows, each encoded like a
        /// whole file and padded with all-256 patches to T (the first, longest window's patch count), and validPatches
        /// [M, 1] int64, each window's own patch count. K = max(1, ceil(n / C)) windows of C = (L - 2) P bytes;
        /// M = min(K, MaxWindows); window indices floor(i (K - 1) / max(M - 1, 1)), i = 0..M-1.
        /// </summary>
        private (string Patches, string ValidPatches) EncodeWindows(string bytes, string extension)
        {
            long p = P, window = (long)(L - 2) * P;
            var pad = b.Int64s(Enumerable.Repeat((long)BGptConfig.SpecialToken, P).ToArray());   // [P] of 256
            var ext = b.Node("Squeeze", [b.Cast(extension, DataType.Int64), b.Int64s(0)]);       // [e]
            var extPatch = b.Slice(b.Concat(0, ext, pad), [0], [p], [0]);                      // [P]
            var content = b.Node("Squeeze", [bytes, b.Int64s(0)]);                              // [n] uint8
            var n = b.Shape(content);                                                           // [1]
            var one = b.Int64s(1);
            var k = b.Max(b.Div(b.Add(n, b.Int64s(window - 1)), b.Int64s(window)), one);        // [1] K windows
            var c = b.Min(b.Int64s(window), b.Mul(b.Div(b.Add(n, b.Int64s(p - 1)), b.Int64s(p)), b.Int64s(p))); // [1] row bytes
            // Zero-pad the content to K rows of c bytes (c = C, or n rounded up to whole patches when K = 1).
            var zeros = b.Node("Expand", [b.Cast(b.Int64Scalar(0), DataType.Uint8), b.Sub(b.Mul(k, c), n)]);
            var grid = b.Node("Reshape", [b.Concat(0, content, zeros), b.Concat(0, k, c)], ("allowzero", 1L)); // [K, c]

            var m = b.Min(k, b.Int64s(options.MaxWindows));                                    // [1] M
            var i = b.Node("Range", [b.Int64Scalar(0), b.Node("Squeeze", [m, b.Int64s(0)]), b.Int64Scalar(1)]); // [M]
            var index = b.Div(b.Mul(i, b.Sub(k, one)), b.Max(b.Sub(m, one), one));            // [M] evenly spaced
            var lengths = b.Min(b.Sub(n, b.Mul(index, b.Int64s(window))), b.Int64s(window));   // [M] window bytes
            var rows = b.Cast(b.Gather(grid, index), DataType.Int64);                         // [M, c]
            var positions = b.Node("Range", [b.Int64Scalar(0), b.Node("Squeeze", [c, b.Int64s(0)]), b.Int64Scalar(1)]); // [c]
            var inWindow = b.Node("Less", [positions, b.Reshape(lengths, -1, 1)]);            // [M, c]
            rows = b.Where(inWindow, rows, b.Int64Scalar(BGptConfig.SpecialToken));          // 256 past each window's end
            var body = b.Node("Reshape", [rows, b.Concat(0, m, b.Div(c, b.Int64s(p)), b.Int64s(p))], ("allowzero", 1L)); // [M, c/P, P]

            var edge = b.Concat(0, m, one, b.Int64s(p));                                       // [3] = M, 1, P
            var extPatches = b.Node("Expand", [b.Reshape(extPatch, 1, 1, p), edge]);           // [M, 1, P]
            var endPatches = b.Node("Expand", [b.Int64Scalar(BGptConfig.SpecialToken), edge]); // [M, 1, P]
            var patches = b.Concat(1, extPatches, body, endPatches);                          // [M, T, P], T = c/P + 2
            var valid = b.Add(b.Div(b.Add(lengths, b.Int64s(p - 1)), b.Int64s(p)), b.Int64s(2)); // [M] ceil(len / P) + 2
            return (patches, b.Reshape(valid, -1, 1));
        }

        /// <summary>hidden [M, T, H], validPatches [M, 1] -> the mean over windows of each window's pooled feature, [1, H].</summary>
        private string PoolWindows(string hidden, string validPatches)
        {
            var t = b.Slice(b.Shape(hidden), [1], [2], [0]);                                   // [1] T
            var index = b.Node("Range", [b.Int64Scalar(0), b.Node("Squeeze", [t, b.Int64s(0)]), b.Int64Scalar(1)]); // [T]
            // 0/1 weights, so the masked sum adds exactly the selected patches: each window's own patches (mean) or
            // its last one, never the all-256 padding patches after it (which, attention being causal, change nothing).
            bool last = options.Pooling == FeaturePooling.LastPatch;
            var selected = last ? b.Node("Equal", [index, b.Sub(validPatches, b.Int64s(1))]) : b.Node("Less", [index, validPatches]); // [M, T]
            var mask = b.Node("Unsqueeze", [b.Cast(selected, DataType.Float), b.Int64s(2)]);  // [M, T, 1]
            var pooled = b.ReduceSum(b.Mul(hidden, mask), [1], keepDims: false);              // [M, H]
            if (!last) pooled = b.Div(pooled, b.Cast(validPatches, DataType.Float));           // mean over the window's patches
            return b.ReduceMean(pooled, [0], keepDims: true);                                 // [1, H]
        }

        // ---------- patch-level decoder ----------

        /// <summary>patches [1, N, P] int64 -> last_hidden_state [1, N, H].</summary>
        private string PatchLevelDecoder(string patches)
        {
            var n = b.Slice(b.Shape(patches), [1], [2], [0]);                                   // [1] = N
            string x;
            using (b.Scope("patch_embedding")) x = PatchEmbedding(patches);                   // [1, N, H]
            if (cfg.BigramBuckets > 0)
                using (b.Scope("bigram_embedding")) x = b.Add(x, BigramEmbedding(patches));  // [1, N, H]
            var wpe = w.Floats(PatchPrefix + "base.wpe.weight", L, H);
            var positions = b.Slice(b.RawFloatInitializer(PatchPrefix + "base.wpe.weight", wpe, L, H), b.Int64s(0), n, 0); // [N, H]
            x = b.Add(x, positions);

            // Additive causal mask for written-out attention: 0 where key <= query, a huge negative value above the
            // diagonal; sliced to [N, N]. The fused operator (opset 23) needs none.
            var mask = b.Opset >= BGptOnnxOptions.FusedAttentionOpset ? null : b.Slice(b.Initializer("causal_mask", CausalMask(L), L, L), b.Int64s(0, 0), b.Concat(0, n, n), 0, 1);
            return Transformer(x, PatchPrefix + "base.", cfg.PatchNumLayers, mask);
        }

        /// <summary>
        /// The original's Linear(P * 257, H) over one-hot patches, as a sum of rows: byte i with value t selects row
        /// i * 257 + t of the transposed weight. patches [1, N, P] -> [1, N, H].
        /// </summary>
        private string PatchEmbedding(string patches)
        {
            const string key = PatchPrefix + "patch_embedding.weight";
            var weight = w.FloatArray(key, H, (long)P * V);                                   // [H, P * 257]
            var transposed = new float[weight.Length];                                        // [P * 257, H]
            int rows = P * V;
            for (int h = 0; h < H; h++)
                for (int r = 0; r < rows; r++) transposed[(long)r * H + h] = weight[(long)h * rows + r];
            var table = b.Initializer(key + ".T", transposed, rows, H);
            var bias = b.RawFloatInitializer(PatchPrefix + "patch_embedding.bias", w.Floats(PatchPrefix + "patch_embedding.bias", H), H);

            var offsets = b.Int64s(Enumerable.Range(0, P).Select(i => (long)i * V).ToArray()); // [P] = i * 257
            var gathered = b.Gather(table, b.Add(patches, offsets));                          // [1, N, P, H]
            return b.Add(b.ReduceSum(gathered, [2], keepDims: false), bias);                   // [1, N, H]
        }

        /// <summary>
        /// BGptConfig.BigramBuckets: each token's (previous token, token) bucket row, summed per patch. patches
        /// [B, N, P] -> [B, N, H]; the previous token of each row's first is ByteBigramHash.Start.
        /// </summary>
        private string BigramEmbedding(string patches)
        {
            const string key = PatchPrefix + "bigram_embedding.weight";
            int k = cfg.BigramBuckets;
            var table = b.RawFloatInitializer(key, w.Floats(key, k, H), k, H);                  // [K, H]
            var buckets = b.Int64Initializer("bigram_buckets", ByteBigramHash.Table(k), ByteBigramHash.Pairs); // [258 * 257]
            var flat = b.Reshape(patches, 0, -1);                                              // [B, T]
            var padded = b.Node("Pad", [flat, b.Int64s(0, 1, 0, 0), b.Int64Scalar(ByteBigramHash.Start)]); // [B, T + 1]
            var before = b.Slice(padded, [0], [-1], [1]);                                      // [B, T] previous tokens
            var pairs = b.Add(b.Mul(before, b.Int64Scalar(BGptConfig.SpecialToken + 1)), flat); // [B, T] pair index
            var rows = b.Reshape(b.Gather(buckets, pairs), b.Shape(patches));                  // [B, N, P] buckets
            return b.ReduceSum(b.Gather(table, rows), [2], keepDims: false);                   // [B, N, H]
        }

        // ---------- GPT-2 ----------

        /// <summary>Blocks and the final LayerNorm: x [B, T, H] -> [B, T, H]; <paramref name="mask"/> is [T, T] additive (null at opset 23).</summary>
        private string Transformer(string x, string prefix, int layers, string? mask)
        {
            for (int i = 0; i < layers; i++)
                using (b.Scope($"h.{i}")) x = Block(x, $"{prefix}h.{i}.", mask);
            using (b.Scope("ln_f")) return LayerNorm(x, prefix + "ln_f.");
        }

        /// <summary>Pre-LayerNorm block: x + attn(ln_1(x)), then + mlp(ln_2(.)). [B, T, H] -> [B, T, H].</summary>
        private string Block(string x, string prefix, string? mask)
        {
            using (b.Scope("attn")) x = b.Add(x, Attention(LayerNorm(x, prefix + "ln_1."), prefix + "attn.", mask));
            using (b.Scope("mlp")) x = b.Add(x, Mlp(LayerNorm(x, prefix + "ln_2."), prefix + "mlp."));
            return x;
        }

        private string LayerNorm(string x, string prefix) =>
            b.LayerNormalization(x, Param(prefix + "weight", H), Param(prefix + "bias", H), (float)cfg.LayerNormEpsilon);

        /// <summary>
        /// Causal multi-head self-attention. x [B, T, H] -> [B, T, H]. From opset 23 the scores, mask, softmax and
        /// weighted sum are ONNX's fused <c>Attention</c> operator (heads read in place, no transposes or mask tensor);
        /// below it they are written out, with <paramref name="mask"/> [T, T] additive.
        /// </summary>
        private string Attention(string x, string prefix, string? mask)
        {
            int heads = cfg.NumHeads, hd = H / heads;
            var qkv = Conv1D(x, prefix + "c_attn.", H, 3 * H);                                // [B, T, 3H]
            var split = b.Split(qkv, 2, H, H, H);                                             // 3 x [B, T, H]
            if (b.Opset >= BGptOnnxOptions.FusedAttentionOpset)
            {
                var fused = b.Node("Attention", [split[0], split[1], split[2]],               // [B, T, H], scale 1/sqrt(hd)
                    ("is_causal", 1L), ("q_num_heads", (long)heads), ("kv_num_heads", (long)heads));
                return Conv1D(fused, prefix + "c_proj.", H, H);
            }
            var q = b.Transpose(b.Reshape(split[0], 0, 0, heads, hd), 0, 2, 1, 3);            // [B, nh, T, hd]
            var k = b.Transpose(b.Reshape(split[1], 0, 0, heads, hd), 0, 2, 3, 1);            // [B, nh, hd, T]
            var v = b.Transpose(b.Reshape(split[2], 0, 0, heads, hd), 0, 2, 1, 3);            // [B, nh, T, hd]
            var scores = b.Div(b.MatMul(q, k), b.FloatScalar(MathF.Sqrt(hd)));                // [B, nh, T, T]
            var probs = b.Softmax(b.Add(scores, mask!), -1);                                  // [B, nh, T, T]
            var y = b.Transpose(b.MatMul(probs, v), 0, 2, 1, 3);                              // [B, T, nh, hd]
            return Conv1D(b.Reshape(y, 0, 0, H), prefix + "c_proj.", H, H);                   // [B, T, H]
        }

        /// <summary>c_fc, tanh-approximated GELU, c_proj. x [B, T, H] -> [B, T, H].</summary>
        private string Mlp(string x, string prefix)
        {
            var h = Conv1D(x, prefix + "c_fc.", H, cfg.InnerSize);                            // [B, T, inner]
            return Conv1D(GeluTanh(h), prefix + "c_proj.", cfg.InnerSize, H);                 // [B, T, H]
        }

        /// <summary>GPT-2's Conv1D: x W + b with W stored [in, out].</summary>
        private string Conv1D(string x, string prefix, int inFeatures, int outFeatures) =>
            b.Add(b.MatMul(x, Param(prefix + "weight", inFeatures, outFeatures)), Param(prefix + "bias", outFeatures));

        /// <summary>gelu_new: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).</summary>
        private string GeluTanh(string x)
        {
            if (b.Opset >= 20) return b.Node("Gelu", [x], ("approximate", "tanh"));
            // Written in the order ONNX Runtime's FastGeluFusion recognises (the way torch exports gelu_new).
            var cube = b.Node("Pow", [x, b.FloatScalar(3f)]);
            var inner = b.Mul(b.Add(x, b.Mul(cube, b.FloatScalar(0.044715f))), b.FloatScalar(0.7978845834732056f)); // sqrt(2 / pi)
            var t = b.Add(b.Node("Tanh", [inner]), b.FloatScalar(1f));
            return b.Mul(b.Mul(x, b.FloatScalar(0.5f)), t);
        }

        // ---------- heads ----------

        /// <summary>features [1, H] -> logits, probabilities [1, labels].</summary>
        private (string Logits, string Probabilities) Classifier(string features, long labels)
        {
            var weight = b.RawFloatInitializer("classifier.weight", w.Floats("classifier.weight", labels, H), labels, H);
            var bias = b.RawFloatInitializer("classifier.bias", w.Floats("classifier.bias", labels), labels);
            var logits = b.Node("Gemm", [features, weight, bias], ("transB", 1L));          // [1, labels]
            return (logits, b.Softmax(logits, -1));
        }

        /// <summary>
        /// The original's LM loss on one sequence: the feature of each patch i &lt; N - 1 predicts, teacher-forced,
        /// the P bytes of patch i + 1 through the byte-level decoder. hidden [1, N, H], patches [1, N, P] ->
        /// loss [1] (nats), bits_per_byte [1].
        /// </summary>
        private (string Loss, string BitsPerByte) BitsPerByte(string hidden, string patches)
        {
            var wte = w.FloatArray(BytePrefix + "wte.weight", V, H, fallbackKey: LmHead);   // [257, H], tied to lm_head
            var wpe = w.FloatArray(BytePrefix + "wpe.weight", P + 1, H);                    // [P + 1, H]
            var wteT = new float[wte.Length];                                                // [H, 257] for the logits
            for (int v = 0; v < V; v++)
                for (int j = 0; j < H; j++) wteT[(long)j * V + v] = wte[(long)v * H + j];

            var source = b.Reshape(b.Slice(hidden, [0], [-1], [1]), -1, 1, H);               // [N-1, 1, H]
            var targets = b.Reshape(b.Slice(patches, [1], [long.MaxValue], [1]), -1, P);      // [N-1, P]
            // ByteLevelDecoder.forward feeds [feature, target bytes 0..P-1] and reads positions 0..P-1. Attention is
            // causal, so position P changes nothing there: feed [feature, target bytes 0..P-2] only.
            var known = b.Slice(targets, [0], [P - 1], [1]);                                   // [N-1, P-1]
            var embedded = b.Gather(b.Initializer(BytePrefix + "wte.weight", wte, V, H), known); // [N-1, P-1, H]
            var x = b.Concat(1, source, embedded);                                            // [N-1, P, H]
            x = b.Add(x, b.Initializer(BytePrefix + "wpe.weight[:P]", wpe[..(P * H)], P, H));  // + positions 0..P-1

            var mask = b.Opset >= BGptOnnxOptions.FusedAttentionOpset ? null : b.Initializer("byte_causal_mask", CausalMask(P), P, P); // [P, P]
            var h = Transformer(x, BytePrefix, cfg.ByteNumLayers, mask);                      // [N-1, P, H]
            var logits = b.MatMul(h, b.Initializer(LmHead + ".T", wteT, H, V));               // [N-1, P, 257]
            var logProbs = b.LogSoftmax(logits, -1);
            var picked = b.Node("GatherElements", [logProbs, b.Reshape(targets, 0, 0, 1)], ("axis", 2L)); // [N-1, P, 1]
            var loss = b.Reshape(b.Neg(b.ReduceMean(picked, null, keepDims: false)), 1);     // [1]
            return (loss, b.Div(loss, b.FloatScalar(MathF.Log(2f))));
        }

        private string Param(string key, params long[] shape) => b.RawFloatInitializer(key, w.Floats(key, shape), shape);

        private static float[] CausalMask(int size)
        {
            var mask = new float[size * size];
            for (int r = 0; r < size; r++)
                for (int c = r + 1; c < size; c++) mask[r * size + c] = float.MinValue;
            return mask;
        }
    }

    /// <summary>Checked access to the weights: each tensor must exist with the expected shape.</summary>
    private sealed class WeightSource(IReadOnlyDictionary<string, TensorData> weights, string? source)
    {
        public string? Source => source;

        public TensorData Get(string key, string? fallbackKey = null)
        {
            if (weights.TryGetValue(key, out var t) && t is not null) return t;
            if (fallbackKey is not null && weights.TryGetValue(fallbackKey, out t) && t is not null) return t;
            var also = fallbackKey is null ? "" : $" (nor its tied copy '{fallbackKey}')";
            throw new BGptCheckpointException(source, $"is missing{also}: the exported ONNX head needs it.", key);
        }

        private TensorData Get(string key, long[] shape, string? fallbackKey)
        {
            var t = Get(key, fallbackKey);
            if (!t.Shape.SequenceEqual(shape))
                throw new BGptCheckpointException(source, $"has shape {t.ShapeText}, expected {TensorData.FormatShape(shape)} for this configuration.", key);
            if (t.DType is not (TensorDType.Float32 or TensorDType.Float64 or TensorDType.Float16 or TensorDType.BFloat16))
                throw new BGptCheckpointException(source, $"has dtype {t.DType}; a floating-point weight is expected.", key);
            return t;
        }

        /// <summary>Float32 little-endian bytes, shared with the tensor when it is float32 already.</summary>
        public byte[] Floats(string key, params long[] shape)
        {
            var t = Get(key, shape, null);
            if (t.DType == TensorDType.Float32 && BitConverter.IsLittleEndian) return t.Data;
            return System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToFloatArray().AsSpan()).ToArray();
        }

        public float[] FloatArray(string key, long rows, long columns, string? fallbackKey = null) =>
            Get(key, [rows, columns], fallbackKey).ToFloatArray();
    }
}
