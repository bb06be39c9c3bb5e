using Microsoft.ML.Data;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>
/// Reads files named by a path column into a byte-vector column and an extension column, reading only what bGPT can
/// use (see <see cref="FileWindowReader"/>). Fitting returns ML.NET's own transformers (column copies and a
/// contract-registered custom mapping), so the result saves into model zips and loads without registration.
/// </summary>
public sealed class LoadFileBytesEstimator : IEstimator<ITransformer>
{
    private const string Component = "LoadFileBytes";
    private readonly string _bytes, _path, _extension;
    private readonly IEstimator<ITransformer> _chain;

    /// <summary>The caps <c>LoadFileBytes(..., maxBytes)</c> accepts: 1 MiB and 16 MiB (each is a saved contract).</summary>
    public static IReadOnlyList<long> SupportedMaxBytes { get; } = [LoadFileHead1MiBFactory.Cap, LoadFileHead16MiBFactory.Cap];

    internal LoadFileBytesEstimator(TransformsCatalog catalog, string bytesColumnName, string pathColumnName, string extensionColumnName,
        long? maxBytes = null)
    {
        _bytes = bytesColumnName ?? throw new ArgumentNullException(nameof(bytesColumnName));
        _path = pathColumnName ?? throw new ArgumentNullException(nameof(pathColumnName));
        _extension = extensionColumnName ?? throw new ArgumentNullException(nameof(extensionColumnName));
        if (_bytes == _extension) throw new ArgumentException($"The bytes and extension columns need different names (both '{_bytes}').");
        IEstimator<ITransformer> read;
        if (maxBytes is null)
            read = catalog.CustomMapping<FilePathRow, FileBytesRow>(LoadFileBytesFactory.Map, LoadFileBytesFactory.ContractName);
        else
        {
            var contract = LoadFileHeadFactory.ContractFor(maxBytes.Value) ?? throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes,
                $"{Component}: maxBytes must be null (head and tail windows) or one of {string.Join(", ", SupportedMaxBytes)} (1 MiB, 16 MiB); a saved model records the cap as a contract name, so only these caps exist.");
            read = catalog.CustomMapping(LoadFileHeadFactory.Mapping((int)maxBytes.Value), contract);
        }
        _chain = catalog.CopyColumns(LoadFileBytesFactory.PathColumn, _path)
            .Append(read)
            .Append(catalog.CopyColumns(_bytes, LoadFileBytesFactory.BytesColumn))
            .Append(catalog.CopyColumns(_extension, LoadFileBytesFactory.ExtensionColumn))
            .Append(catalog.DropColumns(LoadFileBytesFactory.PathColumn, LoadFileBytesFactory.BytesColumn, LoadFileBytesFactory.ExtensionColumn));
    }

    /// <inheritdoc/>
    public ITransformer Fit(IDataView input)
    {
        SchemaChecks.Text(input.Schema, _path, Component);
        return _chain.Fit(input);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaChecks.Text(inputSchema, _path, Component);
        return _chain.GetOutputSchema(inputSchema);
    }
}
