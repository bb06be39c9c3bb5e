using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.BGpt;

/// <summary>How <see cref="BGptFiles.FromFolder"/> finds each file's label.</summary>
public enum LabelSource
{
    /// <summary>The name of the file's first-level sub-folder (folder/cat/x.jpg → "cat").</summary>
    SubfolderName,

    /// <summary>
    /// The original bGPT naming <c>label_xxx.ext</c>: the file name's text before the first underscore, then a dot and
    /// the extension, as train-cls.py builds it ("irish_001.abc" → "irish.abc").
    /// </summary>
    FileNamePrefix,

    /// <summary>No labels (an empty <c>Label</c>): every file, in the root or below, as generative pretraining reads them.</summary>
    None,
}

/// <summary>A labeled file: one row of the data views <see cref="BGptFiles"/> builds.</summary>
public sealed class LabeledFile
{
    /// <summary>Full path of the file.</summary>
    public string Path { get; set; } = "";

    /// <summary>The label.</summary>
    public string Label { get; set; } = "";

    /// <summary>
    /// Optional group (for example the source package or speaker), for grouped splits: <c>TrainTestSplit</c>'s
    /// samplingKeyColumnName, or the trainers' <c>SamplingKeyColumnName</c> (validation holds out whole groups).
    /// </summary>
    public string Group { get; set; } = "";
}

/// <summary>Turns folders and file lists into IDataViews with <c>Path</c>, <c>Label</c> and <c>Group</c> columns.</summary>
public static class BGptFiles
{
    /// <summary>Every file under <paramref name="folder"/>, labeled by sub-folder or by the original's naming, in ordinal path order.</summary>
    public static IReadOnlyList<LabeledFile> ListFolder(string folder, LabelSource labels = LabelSource.SubfolderName)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Folder '{folder}' does not exist.");
        var root = System.IO.Path.GetFullPath(folder);
        var rows = new List<LabeledFile>();
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = System.IO.Path.GetRelativePath(root, file);
            string label;
            if (labels == LabelSource.None) label = "";
            else if (labels == LabelSource.SubfolderName)
            {
                var parts = relative.Split(System.IO.Path.DirectorySeparatorChar);
                if (parts.Length < 2) continue; // files directly in the root have no label
                label = parts[0];
            }
            else
            {
                var name = System.IO.Path.GetFileName(file);
                label = name.Split('_')[0] + "." + file.Split('.')[^1];
            }
            rows.Add(new LabeledFile { Path = file, Label = label });
        }
        if (rows.Count == 0) throw new InvalidOperationException($"Folder '{folder}' holds no {(labels == LabelSource.None ? "" : "labeled ")}files.");
        return rows;
    }

    /// <summary>A data view of <see cref="ListFolder"/>.</summary>
    public static IDataView FromFolder(MLContext mlContext, string folder, LabelSource labels = LabelSource.SubfolderName) =>
        mlContext.Data.LoadFromEnumerable(ListFolder(folder, labels));

    /// <summary>
    /// Reads a CSV of <c>path,label[,group]</c> (a header line first; paths relative to the CSV's folder), as the
    /// datasets under shared/datasets are laid out.
    /// </summary>
    public static IReadOnlyList<LabeledFile> ListCsv(string csvPath)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(csvPath))!;
        var rows = new List<LabeledFile>();
        int line = 0;
        foreach (var text in File.ReadLines(csvPath))
        {
            if (line++ == 0 || string.IsNullOrWhiteSpace(text)) continue;
            var f = text.Split(',');
            if (f.Length < 2) throw new FormatException($"{csvPath}, line {line}: expected path,label[,group], got '{text}'.");
            rows.Add(new LabeledFile { Path = System.IO.Path.Combine(dir, f[0].Trim()), Label = f[1].Trim(), Group = f.Length > 2 ? f[2].Trim() : "" });
        }
        return rows;
    }

    /// <summary>A data view of <see cref="ListCsv"/>.</summary>
    public static IDataView FromCsv(MLContext mlContext, string csvPath) => mlContext.Data.LoadFromEnumerable(ListCsv(csvPath));
}
