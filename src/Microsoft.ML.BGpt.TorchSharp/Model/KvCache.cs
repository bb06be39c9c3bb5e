using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// Keys and values of earlier positions, one pair per layer, so that generation feeds only new positions.
/// Tensors held here live outside any dispose scope; dispose the cache when done.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] _keys, _values;

    /// <summary>An empty cache for a decoder of <paramref name="layers"/> blocks.</summary>
    public KvCache(int layers)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
    }

    /// <summary>Number of positions already cached (by the first layer: read it before a forward pass).</summary>
    public long Length => LengthOf(0);

    /// <summary>Number of positions a layer has cached.</summary>
    public long LengthOf(int layer) => _keys[layer]?.shape[2] ?? 0;

    private Tensor? _lastToken;

    /// <summary>The last token of the positions cached so far, [B, 1] int64 (for <see cref="ByteBigramEmbedding"/>); held as a copy.</summary>
    internal Tensor? LastToken
    {
        get => _lastToken;
        set
        {
            var copy = value?.clone().DetachFromDisposeScope();
            _lastToken?.Dispose();
            _lastToken = copy;
        }
    }

    /// <summary>Appends new keys/values [B, heads, T, head] of a layer and returns all of them.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        var k = _keys[layer] is null ? keys.alias() : cat(new[] { _keys[layer]!, keys }, 2);
        var v = _values[layer] is null ? values.alias() : cat(new[] { _values[layer]!, values }, 2);
        _keys[layer]?.Dispose();
        _values[layer]?.Dispose();
        _keys[layer] = k.DetachFromDisposeScope();
        _values[layer] = v.DetachFromDisposeScope();
        return (k, v);
    }

    /// <summary>Frees every cached key and value.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i]?.Dispose(); _values[i]?.Dispose();
            _keys[i] = _values[i] = null;
        }
        LastToken = null;
    }
}
