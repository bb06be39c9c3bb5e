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

    internal LoadFileBytesEstimator(TransformsCatalog catalog, string bytesColumnName, string pathColumnName, string extensionColumnName)
    {
        _bytes = bytesColumnName ?? throw new ArgumentNullException(nameof(bytesColumnName));
        _path = pathColumnName ?? throw new ArgumentNullException(nameof(pathColumnName));
        _extension = extensionColumnName ?? throw new ArgumentNullException(nameof(extensionColumnName));
        if (_bytes == _extension) throw new ArgumentException($"The bytes and extension columns need different names (both '{_bytes}').");
        _chain = catalog.CopyColumns(LoadFileBytesFactory.PathColumn, _path)
            .Append(catalog.CustomMapping<FilePathRow, FileBytesRow>(LoadFileBytesFactory.Map, LoadFileBytesFactory.ContractName))
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
