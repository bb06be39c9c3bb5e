using System.ComponentModel;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>Infrastructure of <c>LoadFileBytes</c>: the input row of the savable custom mapping.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class FilePathRow
{
    /// <summary>The file path (a temporary column name, renamed around the mapping).</summary>
    [ColumnName(LoadFileBytesFactory.PathColumn)]
    public string Path { get; set; } = "";
}

/// <summary>Infrastructure of <c>LoadFileBytes</c>: the output row of the savable custom mapping.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class FileBytesRow
{
    /// <summary>The file's bytes (its two ends for very large files; see <see cref="FileWindowReader"/>).</summary>
    [ColumnName(LoadFileBytesFactory.BytesColumn)]
    public byte[] Bytes { get; set; } = Array.Empty<byte>();

    /// <summary>UTF-8 bytes of the file name's extension (text after the last dot; empty when there is none).</summary>
    [ColumnName(LoadFileBytesFactory.ExtensionColumn)]
    public byte[] Extension { get; set; } = Array.Empty<byte>();
}

/// <summary>
/// The path-to-bytes mapping behind <c>LoadFileBytes</c>. Registered by contract name, so a model zip that contains
/// it loads in any process that references this assembly: ML.NET records the assembly in the zip and registers it.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(ContractName)]
public sealed class LoadFileBytesFactory : CustomMappingFactory<FilePathRow, FileBytesRow>
{
    /// <summary>The contract name stored in model zips.</summary>
    public const string ContractName = "Microsoft.ML.BGpt.LoadFileBytes.v1";
    internal const string PathColumn = "__bgpt_path";
    internal const string BytesColumn = "__bgpt_bytes";
    internal const string ExtensionColumn = "__bgpt_extension";

    /// <summary>Extensions are kept up to this many UTF-8 bytes; models cut them to their patch size.</summary>
    public const int MaxExtensionBytes = 64;

    /// <inheritdoc/>
    public override Action<FilePathRow, FileBytesRow> GetMapping() => Map;

    internal static void Map(FilePathRow input, FileBytesRow output)
    {
        if (string.IsNullOrEmpty(input.Path)) throw new ArgumentException("LoadFileBytes: a row has an empty path.");
        output.Bytes = FileWindowReader.Read(input.Path);
        output.Extension = ByteEncoder.ExtensionBytes(ByteEncoder.ExtensionOf(input.Path), MaxExtensionBytes);
    }
}

/// <summary>
/// The head-reading mappings behind <c>LoadFileBytes(..., maxBytes)</c>: the first <see cref="MaxBytes"/> bytes of
/// each file, for <see cref="LongFileStrategy.WindowMean"/>. ML.NET saves a custom mapping as a contract name and
/// rebuilds it with a parameterless factory, so each supported cap is its own contract (see the subclasses).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class LoadFileHeadFactory : CustomMappingFactory<FilePathRow, FileBytesRow>
{
    private protected LoadFileHeadFactory() { }

    /// <summary>The most bytes read from the start of each file.</summary>
    public abstract int MaxBytes { get; }

    /// <inheritdoc/>
    public override Action<FilePathRow, FileBytesRow> GetMapping() => Mapping(MaxBytes);

    internal static Action<FilePathRow, FileBytesRow> Mapping(int maxBytes) => (input, output) =>
    {
        if (string.IsNullOrEmpty(input.Path)) throw new ArgumentException("LoadFileBytes: a row has an empty path.");
        output.Bytes = FileWindowReader.ReadHead(input.Path, maxBytes);
        output.Extension = ByteEncoder.ExtensionBytes(ByteEncoder.ExtensionOf(input.Path), LoadFileBytesFactory.MaxExtensionBytes);
    };

    /// <summary>The contract name of a supported cap, or null.</summary>
    internal static string? ContractFor(long maxBytes) => maxBytes switch
    {
        LoadFileHead1MiBFactory.Cap => LoadFileHead1MiBFactory.ContractName,
        LoadFileHead16MiBFactory.Cap => LoadFileHead16MiBFactory.ContractName,
        _ => null,
    };
}

/// <summary>Reads the first 1 MiB of each file (contract <see cref="ContractName"/>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(ContractName)]
public sealed class LoadFileHead1MiBFactory : LoadFileHeadFactory
{
    /// <summary>The contract name stored in model zips.</summary>
    public const string ContractName = "Microsoft.ML.BGpt.LoadFileHead.1MiB.v1";

    /// <summary>1 MiB.</summary>
    public const int Cap = 1 << 20;

    /// <inheritdoc/>
    public override int MaxBytes => Cap;
}

/// <summary>Reads the first 16 MiB of each file (contract <see cref="ContractName"/>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(ContractName)]
public sealed class LoadFileHead16MiBFactory : LoadFileHeadFactory
{
    /// <summary>The contract name stored in model zips.</summary>
    public const string ContractName = "Microsoft.ML.BGpt.LoadFileHead.16MiB.v1";

    /// <summary>16 MiB.</summary>
    public const int Cap = 16 << 20;

    /// <inheritdoc/>
    public override int MaxBytes => Cap;
}
