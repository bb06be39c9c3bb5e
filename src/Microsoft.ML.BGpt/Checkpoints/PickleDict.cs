namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// A Python dict (or collections.OrderedDict) read from or written to a pickle, in insertion order.
/// Keys are strings or <see cref="long"/> integers. Other pickle values map to: list = <see cref="List{T}"/>,
/// tuple = object?[], int = long, float = double, str = string, bytes = byte[], None = null, tensor = <see cref="TensorData"/>.
/// </summary>
public sealed class PickleDict : OrderedDictionary<object, object?>
{
    /// <summary>Creates an empty dict; <paramref name="isOrderedDict"/> makes it pickle as collections.OrderedDict.</summary>
    public PickleDict(bool isOrderedDict = false) => IsOrderedDict = isOrderedDict;

    /// <summary>True for collections.OrderedDict (what torch state dicts are), false for a plain dict.</summary>
    public bool IsOrderedDict { get; set; }

    /// <summary>
    /// Instance attributes set by the pickle's BUILD opcode (torch state dicts carry "_metadata" there), or null.
    /// </summary>
    public PickleDict? Attributes { get; set; }

    /// <summary>The value of a string key, or null when absent.</summary>
    public object? Get(string key) => TryGetValue(key, out var v) ? v : null;
}
