using System.Text;

namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>A torch storage class (torch.FloatStorage, ...) as referenced in a persistent id.</summary>
internal sealed record TorchStorageType(TensorDType DType);

/// <summary>One storage record of a zip checkpoint, resolved from its persistent id.</summary>
internal sealed record TorchStorage(string Key, TensorDType DType, byte[] Bytes)
{
    /// <summary>Views already built from this storage: the same view yields the same <see cref="TensorData"/>
    /// instance, so tied weights stay one object (and one storage when written back).</summary>
    public Dictionary<string, TensorData> Views { get; } = new();
}

/// <summary>An allow-listed Python callable the pickle may invoke; <see cref="Invoke"/> is pure data conversion.</summary>
internal sealed record PickleGlobal(string Name, Func<object?[], object?>? Invoke, object? Value = null);

/// <summary>
/// The allow-list of Python globals a checkpoint pickle may reference. Anything else is rejected with
/// <see cref="DisallowedPickleGlobalException"/> before it could do anything: this reader never runs code
/// named by the file (unlike Python's pickle, which imports and calls whatever the file names).
/// </summary>
internal static class PickleGlobals
{
    public static PickleGlobal? Resolve(string module, string name)
    {
        var full = module + "." + name;
        switch (full)
        {
            case "collections.OrderedDict":
                return new PickleGlobal(full, NewOrderedDict);
            case "torch._utils._rebuild_tensor_v2":
            case "torch._utils._rebuild_tensor":
                return new PickleGlobal(full, RebuildTensor);
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                // A Parameter is its data tensor; requires_grad and hooks do not matter here.
                return new PickleGlobal(full, args => Arg<TensorData>(args, 0, full));
            case "_codecs.encode":
                // Protocol 2 pickles bytes as _codecs.encode(text, 'latin1').
                return new PickleGlobal(full, args => Encoding.Latin1.GetBytes(Arg<string>(args, 0, full)));
        }
        if (module == "torch" && TensorDTypeExtensions.FromTorchStorageName(name) is { } dtype)
            return new PickleGlobal(full, null, new TorchStorageType(dtype));
        return null;
    }

    private static object NewOrderedDict(object?[] args)
    {
        var dict = new PickleDict(isOrderedDict: true);
        if (args.Length > 0 && args[0] is IEnumerable<object?> pairs)
            foreach (var p in pairs)
                if (p is object?[] { Length: 2 } kv && kv[0] is not null) dict[kv[0]!] = kv[1];
        return dict;
    }

    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    private static object RebuildTensor(object?[] args)
    {
        const string fn = "_rebuild_tensor_v2";
        var storage = Arg<TorchStorage>(args, 0, fn);
        long offset = Arg<long>(args, 1, fn);
        long[] shape = Longs(Arg<object?[]>(args, 2, fn), "size");
        long[] strides = Longs(Arg<object?[]>(args, 3, fn), "stride");
        var view = $"{offset}|{string.Join(',', shape)}|{string.Join(',', strides)}";
        if (storage.Views.TryGetValue(view, out var same)) return same;
        int size = storage.DType.ElementSize();
        // A tensor that is its whole storage (every weight torch.save writes) shares the storage's bytes instead of
        // copying them: loading the 110M model then holds one copy of its weights, not two.
        var bytes = StridedGather.IsWholeStorage(storage.Bytes.Length, size, offset, shape, strides)
            ? storage.Bytes
            : StridedGather.Gather(storage.Bytes, size, offset, shape, strides);
        return storage.Views[view] = new TensorData(storage.DType, shape, bytes);
    }

    private static long[] Longs(object?[] tuple, string what) =>
        tuple.Select(o => o is long l ? l : throw new InvalidDataException($"tensor {what} holds a non-integer")).ToArray();

    private static T Arg<T>(object?[] args, int i, string fn) =>
        i < args.Length && args[i] is T t ? t
            : throw new InvalidDataException($"{fn}: argument {i} should be {typeof(T).Name}, got {(i < args.Length ? args[i]?.GetType().Name ?? "None" : "nothing")}");
}
