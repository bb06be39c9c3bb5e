using System.Text.RegularExpressions;

namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// Recovers a <see cref="BGptConfig"/> from state dict names and shapes (checkpoints carry no config), then checks
/// every tensor against the layout that config implies, so a mismatch names the tensor and both shapes.
/// </summary>
internal static partial class BGptConfigInference
{
    [GeneratedRegex(@"^patch_level_decoder\.base\.h\.(\d+)\.")]
    private static partial Regex PatchLayer();

    [GeneratedRegex(@"^byte_level_decoder\.base\.transformer\.h\.(\d+)\.")]
    private static partial Regex ByteLayer();

    public static (BGptCheckpointKind Kind, BGptConfig Config, int NumLabels) Infer(
        IReadOnlyDictionary<string, TensorData> w, int? numHeads, string? file)
    {
        if (!w.Keys.Any(k => k.StartsWith(BGptStateDictLayout.Patch, StringComparison.Ordinal)))
            throw new BGptCheckpointException(file, "not a bGPT checkpoint: it has no 'patch_level_decoder.*' tensors.");
        bool lm = w.Keys.Any(k => k.StartsWith("byte_level_decoder.", StringComparison.Ordinal));
        bool cls = w.ContainsKey(BGptStateDictLayout.ClassifierWeight);
        if (lm == cls)
            throw new BGptCheckpointException(file, lm
                ? "has both a byte-level decoder and a classifier; expected one bGPT model."
                : "has neither 'byte_level_decoder.*' nor 'classifier.weight' tensors; expected a bGPT LM or classifier.");
        var kind = lm ? BGptCheckpointKind.LanguageModel : BGptCheckpointKind.Classifier;

        var embedding = Require(w, "patch_level_decoder.patch_embedding.weight", 2, file);
        long hidden = embedding.Shape[0];
        const int vocab = 257;
        if (embedding.Shape[1] % vocab != 0)
            throw new BGptCheckpointException(file, $"shape {embedding.ShapeText}: the second dimension must be PatchSize x {vocab}.", "patch_level_decoder.patch_embedding.weight");
        var wpe = Require(w, "patch_level_decoder.base.wpe.weight", 2, file);
        var fc = Require(w, "patch_level_decoder.base.h.0.mlp.c_fc.weight", 2, file);
        int heads = numHeads ?? (int)Math.Max(1, hidden / 64);
        int byteLayers = lm ? CountLayers(w.Keys, ByteLayer()) : BGptConfig.Default.ByteNumLayers; // classifiers have no byte decoder
        int bigrams = 0;
        if (w.ContainsKey(BGptStateDictLayout.BigramEmbedding))
        {
            var bigram = Require(w, BGptStateDictLayout.BigramEmbedding, 2, file);
            if (bigram.Shape[1] != hidden)
                throw new BGptCheckpointException(file, $"shape {bigram.ShapeText}: the second dimension must be the hidden size {hidden}.", BGptStateDictLayout.BigramEmbedding);
            bigrams = (int)bigram.Shape[0];
        }
        int labels = cls ? (int)Require(w, BGptStateDictLayout.ClassifierWeight, 2, file).Shape[0] : 0;
        try
        {
            var config = new BGptConfig
            {
                PatchSize = (int)(embedding.Shape[1] / vocab),
                PatchLength = (int)wpe.Shape[0],
                HiddenSize = (int)hidden,
                PatchNumLayers = CountLayers(w.Keys, PatchLayer()),
                ByteNumLayers = byteLayers,
                NumHeads = heads,
                InnerSize = (int)fc.Shape[1],
                BigramBuckets = bigrams,
            }.Validate();
            return (kind, config, labels);
        }
        catch (ArgumentException e)
        {
            throw new BGptCheckpointException(file, $"inconsistent model shape: {e.Message}", inner: e);
        }
    }

    /// <summary>Checks presence, shape and dtype of every tensor against the layout; rejects unknown keys.</summary>
    public static void Check(IReadOnlyDictionary<string, TensorData> w, List<StateDictEntry> layout, string? file)
    {
        var byKey = layout.ToDictionary(e => e.Key);
        foreach (var (key, t) in w)
        {
            if (!byKey.TryGetValue(key, out var e))
                throw new BGptCheckpointException(file, "unexpected tensor for this bGPT model (unknown name, or a layer beyond the inferred count).", key);
            if (!t.Shape.SequenceEqual(e.Shape))
                throw new BGptCheckpointException(file, $"expected shape {TensorData.FormatShape(e.Shape)}, found {t.ShapeText}.", key);
            bool floating = t.DType is TensorDType.Float32 or TensorDType.Float64 or TensorDType.Float16 or TensorDType.BFloat16;
            bool ok = e.Role == EntryRole.CausalMask ? t.DType is TensorDType.UInt8 or TensorDType.Bool : floating;
            if (!ok) throw new BGptCheckpointException(file, $"unsupported dtype {t.DType} for this tensor.", key);
        }
        foreach (var e in layout.Where(e => e.Role == EntryRole.Parameter && !w.ContainsKey(e.Key)))
        {
            // The unused [1, H] token embedding and one of the two tied byte embeddings may be left out.
            if (e.Key == "patch_level_decoder.base.wte.weight") continue;
            if (e.Key == BGptStateDictLayout.ByteWte && w.ContainsKey(BGptStateDictLayout.LmHead)) continue;
            throw new BGptCheckpointException(file, $"missing tensor (expected shape {TensorData.FormatShape(e.Shape)}).", e.Key);
        }
    }

    private static TensorData Require(IReadOnlyDictionary<string, TensorData> w, string key, int rank, string? file)
    {
        if (!w.TryGetValue(key, out var t)) throw new BGptCheckpointException(file, "missing tensor.", key);
        if (t.Shape.Length != rank) throw new BGptCheckpointException(file, $"expected a {rank}-D tensor, found shape {t.ShapeText}.", key);
        return t;
    }

    private static int CountLayers(IEnumerable<string> keys, Regex pattern) =>
        keys.Select(k => pattern.Match(k)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value) + 1).DefaultIfEmpty(0).Max();
}
