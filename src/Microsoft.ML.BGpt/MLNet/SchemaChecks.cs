using Microsoft.ML.Data;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>Input-column checks with messages that name the column, the expected type and what was found.</summary>
internal static class SchemaChecks
{
    /// <summary>What a check needs of a column, from a <see cref="SchemaShape"/> or a <see cref="DataViewSchema"/>.</summary>
    private readonly record struct Info(bool IsVector, bool IsVariable, DataViewType ItemType, bool IsKey);

    private static Info? Lookup(SchemaShape schema, string column)
    {
        var c = schema.LastOrDefault(x => x.Name == column);
        if (c.Name is null) return null;
        return new Info(c.Kind != SchemaShape.Column.VectorKind.Scalar, c.Kind == SchemaShape.Column.VectorKind.VariableVector, c.ItemType, c.IsKey);
    }

    private static Info? Lookup(DataViewSchema schema, string column)
    {
        var c = schema.GetColumnOrNull(column);
        if (c is null) return null;
        var t = c.Value.Type;
        return t is VectorDataViewType v ? new Info(true, !v.IsKnownSize, v.ItemType, v.ItemType is KeyDataViewType)
            : new Info(false, false, t, t is KeyDataViewType);
    }

    private static string Describe(Info i) => !i.IsVector ? i.ItemType.ToString() ?? "" : i.IsVariable ? $"variable-length Vector<{i.ItemType}>" : $"Vector<{i.ItemType}>";

    private static Info Require(Info? info, IEnumerable<string> names, string column, string component, string expected) =>
        info ?? throw new ArgumentOutOfRangeException("inputSchema",
            $"{component}: input column '{column}' not found; expected {expected}. Available columns: {string.Join(", ", names)}.");

    private static ArgumentOutOfRangeException Mismatch(string component, string column, Info i, string expected) =>
        new("inputSchema", $"{component}: input column '{column}' has type {Describe(i)}; expected {expected}.");

    private const string BytesExpected = "a vector of Byte (for example from mlContext.Transforms.LoadFileBytes)";
    private const string TextExpected = "a String (Text) column of file paths";

    public static void ByteVector(SchemaShape s, string column, string component) => ByteVector(Lookup(s, column), s.Select(c => c.Name), column, component);
    public static void ByteVector(DataViewSchema s, string column, string component) => ByteVector(Lookup(s, column), s.Select(c => c.Name), column, component);

    private static void ByteVector(Info? info, IEnumerable<string> names, string column, string component)
    {
        var i = Require(info, names, column, component, BytesExpected);
        if (!i.IsVector || i.ItemType != NumberDataViewType.Byte) throw Mismatch(component, column, i, BytesExpected);
    }

    public static void Text(SchemaShape s, string column, string component) => Text(Lookup(s, column), s.Select(c => c.Name), column, component);
    public static void Text(DataViewSchema s, string column, string component) => Text(Lookup(s, column), s.Select(c => c.Name), column, component);

    private static void Text(Info? info, IEnumerable<string> names, string column, string component)
    {
        var i = Require(info, names, column, component, TextExpected);
        if (i.IsVector || i.ItemType is not TextDataViewType) throw Mismatch(component, column, i, TextExpected);
    }

    private const string KeyExpected = "a scalar column (Text, a number, a key or a Boolean) naming each row's group";

    /// <summary>A sampling key (the rows' group: speaker, source, document): any scalar column; null (no key) passes.</summary>
    public static void SamplingKey(SchemaShape s, string? column, string component)
    {
        if (column is not null) SamplingKey(Lookup(s, column), s.Select(c => c.Name), column, component);
    }

    public static void SamplingKey(DataViewSchema s, string? column, string component)
    {
        if (column is not null) SamplingKey(Lookup(s, column), s.Select(c => c.Name), column, component);
    }

    private static void SamplingKey(Info? info, IEnumerable<string> names, string column, string component)
    {
        var i = Require(info, names, column, component, KeyExpected);
        if (i.IsVector || i.ItemType is not (TextDataViewType or NumberDataViewType or KeyDataViewType or BooleanDataViewType)) throw Mismatch(component, column, i, KeyExpected);
    }

    private static string LabelExpected(bool binary) =>
        binary ? "a Boolean label" : "a key-typed label of UInt32 (use mlContext.Transforms.Conversion.MapValueToKey)";

    // Keys are read as UInt32, MapValueToKey's type; other key widths (from a TextLoader, say) are named here.
    private static void CheckLabel(Info i, string column, string component, bool binary)
    {
        bool ok = !i.IsVector && (binary ? i.ItemType is BooleanDataViewType : i.IsKey && i.ItemType.RawType == typeof(uint));
        if (!ok) throw Mismatch(component, column, i, LabelExpected(binary));
    }

    /// <summary>A scalar key label of UInt32 (as MapValueToKey makes) or, for binary tasks, a Boolean.</summary>
    public static void Label(DataViewSchema s, string column, string component, bool binary)
    {
        var i = Require(Lookup(s, column), s.Select(c => c.Name), column, component, LabelExpected(binary));
        CheckLabel(i, column, component, binary);
    }

    public static void Label(SchemaShape s, string column, string component, bool binary)
    {
        var i = Require(Lookup(s, column), s.Select(c => c.Name), column, component, LabelExpected(binary));
        CheckLabel(i, column, component, binary);
    }
}
