using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// transformers' GPT2Model fed with input embeddings: learned positions, dropout, blocks, final LayerNorm.
/// </summary>
public sealed class Gpt2Model : nn.Module
{
    private readonly Embedding wte;  // token embeddings (the patch decoder's [1, H] one is never used, as in the original)
    private readonly Embedding wpe;  // [positions, H]
    private readonly ModuleList<Block> h;
    private readonly nn.Module<Tensor, Tensor> ln_f;
    private readonly double _dropout;

    /// <summary>A randomly initialised GPT-2 with <paramref name="vocab"/> tokens, <paramref name="positions"/> learned positions and <paramref name="layers"/> blocks.</summary>
    public Gpt2Model(BGptConfig config, int vocab, int positions, int layers) : base(nameof(Gpt2Model))
    {
        _dropout = config.Dropout;
        wte = nn.Embedding(vocab, config.HiddenSize);
        wpe = nn.Embedding(positions, config.HiddenSize);
        using (no_grad())
        {
            nn.init.normal_(wte.weight!, 0, 0.02);
            nn.init.normal_(wpe.weight!, 0, 0.02);
        }
        h = new ModuleList<Block>(Enumerable.Range(0, layers).Select(_ => new Block(config, layers)).ToArray());
        ln_f = nn.LayerNorm(config.HiddenSize, config.LayerNormEpsilon);
        RegisterComponents();
    }

    /// <summary>Token embedding table [vocab, H].</summary>
    public Parameter TokenEmbedding => wte.weight!;

    /// <summary>Number of learned positions.</summary>
    public long Positions => wpe.weight!.shape[0];

    /// <param name="inputsEmbeds">[B, T, H]</param>
    /// <param name="keyMask">[B, past + T] booleans, true for real positions; null when all are real.</param>
    /// <param name="cache">Cached keys/values of earlier positions; positions continue after them.</param>
    /// <returns>[B, T, H]</returns>
    public Tensor forward(Tensor inputsEmbeds, Tensor? keyMask = null, KvCache? cache = null)
    {
        long past = cache?.Length ?? 0, t = inputsEmbeds.shape[1];
        if (past + t > Positions)
            throw new ArgumentException($"{past + t} positions exceed this decoder's {Positions} learned positions " +
                "(BGptConfig.PatchLength for the patch-level decoder, PatchSize + 1 for the byte-level one).", nameof(inputsEmbeds));
        using var positions = wpe.weight!.narrow(0, past, t);                  // rows past..past + t - 1: [T, H]
        using var embedded = Ops.Add(inputsEmbeds, positions);
        var x = Dropout.Apply(embedded, _dropout, training);
        for (int i = 0; i < h.Count; i++) x = h[i].forward(x, keyMask, cache, i);
        return ln_f.forward(x);
    }

    /// <summary>A cache sized for this model's layers.</summary>
    public KvCache NewCache() => new(h.Count);
}
