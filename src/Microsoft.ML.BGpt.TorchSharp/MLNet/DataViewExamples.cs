using Microsoft.ML.BGpt.Training;
using Microsoft.ML.Data;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>Reads training rows (bytes, extension, label) out of an IDataView.</summary>
internal static class DataViewExamples
{
    // groupColumn: the sampling key column (each row's group, as text in ByteExample.Group; empty text is no group), or null.
    public static List<ByteExample> Read(IDataView data, string bytesColumn, string extensionColumn, string? labelColumn, bool binary, string component,
        string? groupColumn = null)
    {
        var columns = new List<DataViewSchema.Column> { data.Schema[bytesColumn], data.Schema[extensionColumn] };
        if (labelColumn is not null) columns.Add(data.Schema[labelColumn]);
        if (groupColumn is not null) columns.Add(data.Schema[groupColumn]);
        var examples = new List<ByteExample>();
        using var cursor = data.GetRowCursor(columns);
        var bytes = cursor.GetGetter<VBuffer<byte>>(data.Schema[bytesColumn]);
        var ext = cursor.GetGetter<VBuffer<byte>>(data.Schema[extensionColumn]);
        ValueGetter<uint>? key = labelColumn is not null && !binary ? cursor.GetGetter<uint>(data.Schema[labelColumn]) : null;
        ValueGetter<bool>? flag = labelColumn is not null && binary ? cursor.GetGetter<bool>(data.Schema[labelColumn]) : null;
        Func<string>? group = groupColumn is null ? null : GroupGetter(cursor, data.Schema[groupColumn]);
        VBuffer<byte> b = default, e = default;
        long row = 0;
        while (cursor.MoveNext())
        {
            bytes(ref b);
            ext(ref e);
            int label = -1;
            if (key is not null)
            {
                uint k = 0;
                key(ref k);
                if (k == 0) throw new InvalidOperationException($"{component}: row {row} has a missing label in column '{labelColumn}' (a value MapValueToKey did not know). Remove such rows or fix the labels.");
                label = (int)k - 1;
            }
            else if (flag is not null)
            {
                bool v = false;
                flag(ref v);
                label = v ? 1 : 0;
            }
            examples.Add(new ByteExample(b.DenseValues().ToArray(), e.DenseValues().ToArray(), label) { Group = group?.Invoke() is { Length: > 0 } g ? g : null });
            row++;
        }
        if (examples.Count == 0) throw new InvalidOperationException($"{component}: the training data has no rows.");
        return examples;
    }

    /// <summary>Reads a scalar column of any type as text (the group of <see cref="ByteExample.Group"/>).</summary>
    private static Func<string> GroupGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var read = typeof(DataViewExamples).GetMethod(nameof(TextGetter), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        return (Func<string>)read.MakeGenericMethod(column.Type.RawType).Invoke(null, [cursor, column])!;
    }

    private static Func<string> TextGetter<T>(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var getter = cursor.GetGetter<T>(column);
        return () =>
        {
            T value = default!;
            getter(ref value);
            return value is ReadOnlyMemory<char> text ? text.ToString() : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
        };
    }

    /// <summary>The label key's values as text, in key order (label i is key i + 1).</summary>
    public static IReadOnlyList<string> KeyLabels(DataViewSchema.Column label)
    {
        var type = (KeyDataViewType)label.Type;
        int count = checked((int)type.Count);
        if (count == 0) throw new InvalidOperationException($"Label column '{label.Name}' is a key of unknown cardinality; use MapValueToKey.");
        var values = label.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (values is null) return Enumerable.Range(1, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (values.Value.Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            VBuffer<ReadOnlyMemory<char>> text = default;
            label.GetKeyValues(ref text);
            return text.DenseValues().Select(v => v.ToString()).ToArray();
        }
        // Non-text key values (numbers, booleans): keep their text form.
        var itemType = ((VectorDataViewType)values.Value.Type).ItemType.RawType;
        var read = typeof(DataViewExamples).GetMethod(nameof(KeyValuesAsText), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        return (string[])read.MakeGenericMethod(itemType).Invoke(null, new object[] { label })!;
    }

    private static string[] KeyValuesAsText<T>(DataViewSchema.Column label)
    {
        VBuffer<T> values = default;
        label.GetKeyValues(ref values);
        return values.DenseValues().Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
    }
}
