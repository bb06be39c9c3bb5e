namespace Microsoft.ML.BGpt;

/// <summary>
/// The shape of a bGPT model. Defaults are the paper's configuration (about 110M parameters):
/// patches of 16 bytes, at most 512 patches (8 KB), hidden size 768, 12 patch-level layers,
/// 3 byte-level layers, 12 attention heads and a 257-symbol alphabet (256 byte values plus the special 256).
/// </summary>
public sealed record BGptConfig
{
    /// <summary>The special symbol that pads patches and marks the end of a file.</summary>
    public const int SpecialToken = 256;

    /// <summary>Bytes per patch (the original's PATCH_SIZE). Default 16.</summary>
    public int PatchSize { get; init; } = 16;

    /// <summary>Maximum number of patches per sequence, extension and end patches included (PATCH_LENGTH). Default 512.</summary>
    public int PatchLength { get; init; } = 512;

    /// <summary>Hidden size of both decoders (HIDDEN_SIZE). Default 768.</summary>
    public int HiddenSize { get; init; } = 768;

    /// <summary>Layers of the patch-level decoder (PATCH_NUM_LAYERS). Default 12.</summary>
    public int PatchNumLayers { get; init; } = 12;

    /// <summary>Layers of the byte-level decoder (BYTE_NUM_LAYERS). Default 3.</summary>
    public int ByteNumLayers { get; init; } = 3;

    /// <summary>Attention heads in every layer. The original uses HIDDEN_SIZE / 64. Default 12.</summary>
    public int NumHeads { get; init; } = 12;

    /// <summary>Width of the MLP inside each block. The original uses 4 x HIDDEN_SIZE. Default 3072.</summary>
    public int InnerSize { get; init; } = 3072;

    /// <summary>Alphabet of the byte-level decoder: 256 byte values and the special symbol. Always 257.</summary>
    public int VocabSize { get; init; } = 257;

    /// <summary>LayerNorm epsilon of GPT-2. Default 1e-5.</summary>
    public double LayerNormEpsilon { get; init; } = 1e-5;

    /// <summary>Dropout probability of embeddings, attention and residuals while training (GPT-2's 0.1).</summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary>
    /// Hashed byte-bigram buckets added to the patch embedding; 0 (the default, and the original) for none. With K
    /// buckets, every token also adds row <c>hash(previous token, token) mod K</c> of a learned [K, HiddenSize] table
    /// (<c>patch_level_decoder.bigram_embedding.weight</c>) to its patch's embedding, as fastText adds hashed n-grams
    /// to words: the model sees which bytes follow which without having to learn it from one-hot positions. A
    /// modality-agnostic input feature, not in the paper; checkpoints that have it load here but not in the original
    /// code (its <c>load_state_dict</c> rejects the extra tensor).
    /// </summary>
    public int BigramBuckets { get; init; }

    /// <summary>The paper's configuration.</summary>
    public static BGptConfig Default { get; } = new();

    /// <summary>
    /// A configuration with the original's derived values: <see cref="NumHeads"/> = hidden / 64 (at least 1)
    /// and <see cref="InnerSize"/> = 4 x hidden.
    /// </summary>
    public static BGptConfig Create(int patchSize = 16, int patchLength = 512, int hiddenSize = 768,
        int patchNumLayers = 12, int byteNumLayers = 3, int? numHeads = null, int bigramBuckets = 0) => new()
    {
        PatchSize = patchSize,
        PatchLength = patchLength,
        HiddenSize = hiddenSize,
        PatchNumLayers = patchNumLayers,
        ByteNumLayers = byteNumLayers,
        NumHeads = numHeads ?? Math.Max(1, hiddenSize / 64),
        InnerSize = 4 * hiddenSize,
        BigramBuckets = bigramBuckets,
    };

    /// <summary>Maximum number of tokens (bytes and specials) a sequence holds: PatchSize x PatchLength.</summary>
    public int MaxTokens => PatchSize * PatchLength;

    /// <summary>Width of a one-hot patch: PatchSize x VocabSize (4112 by default).</summary>
    public int PatchInputSize => PatchSize * VocabSize;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public BGptConfig Validate()
    {
        Require(PatchSize >= 1, nameof(PatchSize), $"must be at least 1 (got {PatchSize})");
        Require(PatchLength >= 2, nameof(PatchLength), $"must be at least 2: one extension patch and one content patch (got {PatchLength})");
        Require(HiddenSize >= 1, nameof(HiddenSize), $"must be at least 1 (got {HiddenSize})");
        Require(NumHeads >= 1, nameof(NumHeads), $"must be at least 1 (got {NumHeads})");
        Require(HiddenSize % Math.Max(1, NumHeads) == 0, nameof(NumHeads), $"must divide HiddenSize (HiddenSize {HiddenSize}, NumHeads {NumHeads})");
        Require(PatchNumLayers >= 1, nameof(PatchNumLayers), $"must be at least 1 (got {PatchNumLayers})");
        Require(ByteNumLayers >= 1, nameof(ByteNumLayers), $"must be at least 1 (got {ByteNumLayers})");
        Require(InnerSize >= 1, nameof(InnerSize), $"must be at least 1 (got {InnerSize})");
        Require(VocabSize == 257, nameof(VocabSize), $"must be 257: 256 byte values and the special symbol (got {VocabSize})");
        Require(LayerNormEpsilon > 0, nameof(LayerNormEpsilon), $"must be positive (got {LayerNormEpsilon})");
        Require(BigramBuckets >= 0, nameof(BigramBuckets), $"must be 0 (none) or a positive bucket count (got {BigramBuckets})");
        Require(Dropout >= 0 && Dropout < 1, nameof(Dropout), $"must be in [0, 1) (got {Dropout})");
        return this;
    }

    private static void Require(bool ok, string name, string message)
    {
        if (!ok) throw new ArgumentException($"BGptConfig.{name} {message}.", name);
    }
}
