using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// The patch-level decoder: embeds each patch of bytes and runs a causal GPT-2 over the patches,
/// giving one feature per patch.
/// </summary>
public sealed class PatchLevelDecoder : nn.Module
{
    private readonly PatchEmbedding patch_embedding;
    private readonly ByteBigramEmbedding? bigram_embedding; // only with BGptConfig.BigramBuckets > 0
    private readonly Gpt2Model @base;
    private readonly int _patchSize;

    /// <summary>A randomly initialised patch-level decoder (<see cref="BGptConfig.PatchNumLayers"/> layers, <see cref="BGptConfig.PatchLength"/> positions).</summary>
    public PatchLevelDecoder(BGptConfig config) : base(nameof(PatchLevelDecoder))
    {
        _patchSize = config.PatchSize;
        patch_embedding = new PatchEmbedding(config.PatchSize, config.VocabSize, config.HiddenSize);
        if (config.BigramBuckets > 0) bigram_embedding = new ByteBigramEmbedding(config.BigramBuckets, config.HiddenSize);
        @base = new Gpt2Model(config, vocab: 1, positions: config.PatchLength, layers: config.PatchNumLayers);
        RegisterComponents();
    }

    /// <summary>The linear projection of one-hot patches.</summary>
    public PatchEmbedding Embedding => patch_embedding;

    /// <summary>The hashed byte-bigram embedding, or null (the original) when <see cref="BGptConfig.BigramBuckets"/> is 0.</summary>
    public ByteBigramEmbedding? BigramEmbedding => bigram_embedding;

    /// <summary>The GPT-2 over patches.</summary>
    public Gpt2Model Transformer => @base;

    /// <summary>
    /// patches [B, N, P] or [B, N * P] -> int64 [B, N, P], checked: whole patches, and every token a byte value or the
    /// special 256 (the embedding reads row i * 257 + t, so any other value would silently read a neighbour's row; the
    /// original's one_hot raises).
    /// </summary>
    internal static Tensor Tokens(Tensor patches, int patchSize)
    {
        long rows = Math.Max(1, patches.shape[0]), perRow = patches.numel() / rows;
        if (patches.dim() < 2 || perRow % patchSize != 0)
            throw new ArgumentException($"patches: shape [{string.Join(", ", patches.shape)}] is not [batch, patches x {patchSize}] (BGptConfig.PatchSize {patchSize}).", nameof(patches));
        using var shaped = patches.view(patches.shape[0], -1, patchSize);
        var tokens = shaped.to_type(ScalarType.Int64);
        if (tokens.numel() > 0)
        {
            using var lo = tokens.min();
            using var hi = tokens.max();
            long min = lo.item<long>(), max = hi.item<long>();
            if (min < 0 || max > BGptConfig.SpecialToken)
            {
                tokens.Dispose();
                throw new ArgumentOutOfRangeException(nameof(patches), $"patches: tokens must be 0..255 or the special {BGptConfig.SpecialToken}; found {min}..{max}.");
            }
        }
        return tokens;
    }

    /// <param name="patches">[B, N, P] or [B, N * P] tokens (0..256).</param>
    /// <param name="patchMask">[B, N] (true or 1 for real patches), or null when every patch is real.</param>
    /// <param name="cache">Cached keys/values of earlier patches, for generation.</param>
    /// <returns>last_hidden_state [B, N, H]</returns>
    public Tensor forward(Tensor patches, Tensor? patchMask = null, KvCache? cache = null)
    {
        using var tokens = Tokens(patches, _patchSize);                                               // [B, N, P]
        using var embeds = Embed(tokens, cache);                                                     // [B, N, H]
        using var mask = patchMask?.to_type(ScalarType.Bool);
        return @base.forward(embeds, mask, cache);
    }

    private Tensor Embed(Tensor tokens, KvCache? cache) // [B, N, P] -> [B, N, H]
    {
        if (bigram_embedding is null) return patch_embedding.forward(tokens);
        using var patchEmbeds = patch_embedding.forward(tokens);
        // With a cache, the first new token's predecessor is the last token the cache has seen.
        using var bigrams = bigram_embedding.forward(tokens, cache?.Length > 0 ? cache.LastToken : null);
        if (cache is not null)
        {
            using var lastPatch = tokens.select(1, -1);                                   // [B, P]
            using var last = lastPatch.narrow(1, tokens.shape[2] - 1, 1);                 // [B, 1]
            cache.LastToken = last;
        }
        return patchEmbeds + bigrams;
    }
}
