using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// Sums fixed-size bags of rows of one weight, row indices [M, P] -> [M, H]: libtorch's fused embedding_bag sums each
/// bag forward and backward without writing the [M, P, H] gather (8 KB at H 768: 25 MB per file) and reading it back,
/// which makes training steps 1.1-1.5x faster (docs/benchmarks.md). The patch embedding and the bigram embedding use it.
/// </summary>
internal sealed class RowBagSum : IDisposable
{
    // TorchSharp offers embedding_bag only as a module, so one is made per weight tensor (the same tensor, no copy:
    // gradients land on the weight) and remade when a dtype or device move replaces the parameter; held here, not as a
    // module field, so TorchSharp never registers or moves it.
    private (TorchSharp.Modules.Parameter Weight, TorchSharp.Modules.EmbeddingBag Bag)? _bag;

    // Two threads' first forwards must not both make (and drop) one.
    private readonly object _lock = new();

    /// <summary>rows [M, P] int64 indices into <paramref name="weight"/> [R, H] -> [M, H], the sum of each row of indices' rows.</summary>
    public Tensor Sum(TorchSharp.Modules.Parameter weight, Tensor rows) =>
        Module(weight) is { } bag ? bag.forward(rows, null, null) : Gathered(weight, rows);

    /// <summary>Whether a forward has made the embedding_bag module for <paramref name="weight"/> (tests).</summary>
    public bool HasModuleFor(TorchSharp.Modules.Parameter weight) { lock (_lock) return _bag is { } b && ReferenceEquals(b.Weight, weight); }

    private TorchSharp.Modules.EmbeddingBag? Module(TorchSharp.Modules.Parameter weight)
    {
        lock (_lock)
        {
            if (_bag is { } cached && ReferenceEquals(cached.Weight, weight)) return cached.Bag;
            // Making the module draws a throwaway initialisation from the global generator, whose state is then put
            // back, so a seeded run's dropout and sampling are what they would be without this cache. While another
            // thread's training run draws from that generator, putting it back would rewind the run: null then,
            // and this forward sums through the gather.
            TorchSharp.Modules.EmbeddingBag? bag = null;
            Training.TorchSettingsScope.UnlessAnotherRun(() =>
            {
                using var generator = Generator.Default;
                using var state = generator.get_state();
                bag = nn.EmbeddingBag_from_pretrained(weight, freeze: !weight.requires_grad, mode: EmbeddingBagMode.Sum);
                generator.set_state(state);
            });
            if (bag is null) return null;
            _bag?.Bag.Dispose();
            _bag = (weight, bag);
            return bag;
        }
    }

    // The same sum through the [M, P, H] gather.
    private static Tensor Gathered(Tensor weight, Tensor rows)
    {
        using var flat = rows.flatten();
        using var gathered = weight.index_select(0, flat);
        using var bags = gathered.view(rows.shape[0], rows.shape[1], weight.shape[1]);
        return bags.sum(1);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _bag?.Bag.Dispose();
            _bag = null;
        }
    }
}
