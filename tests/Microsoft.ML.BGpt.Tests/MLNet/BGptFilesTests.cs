using FluentAssertions;
using Microsoft.ML;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

public class BGptFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-files-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Touch(string relative)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, relative);
        return path;
    }

    [Fact]
    public void Subfolders_are_labels()
    {
        Touch("cat/a.jpg"); Touch("cat/deeper/b.jpg"); Touch("dog/c.jpg"); Touch("unlabeled.txt");
        var rows = BGptFiles.ListFolder(_dir);
        rows.Select(r => (Path.GetFileName(r.Path), r.Label)).Should().Equal(("a.jpg", "cat"), ("b.jpg", "cat"), ("c.jpg", "dog"));
        new MLContext().Data.CreateEnumerable<LabeledFile>(BGptFiles.FromFolder(new MLContext(), _dir), false).Should().HaveCount(3);
        BGptFiles.ListFolder(_dir, LabelSource.None).Select(r => (Path.GetFileName(r.Path), r.Label))
            .Should().Equal(("a.jpg", ""), ("b.jpg", ""), ("c.jpg", ""), ("unlabeled.txt", ""));
    }

    [Fact]
    public void The_original_naming_is_label_underscore_then_the_extension()
    {
        Touch("train/irish_001.abc"); Touch("train/prose_17.txt");
        BGptFiles.ListFolder(_dir, LabelSource.FileNamePrefix).Select(r => r.Label).Should().Equal("irish.abc", "prose.txt");
    }

    [Fact]
    public void Csv_paths_are_relative_to_the_csv_and_groups_are_kept()
    {
        var csv = Path.Combine(_dir, "train.csv");
        File.WriteAllText(csv, "path,label,group\ntrain/x,de,pkg1\ntrain/y,fr\n");
        var rows = BGptFiles.ListCsv(csv);
        rows.Select(r => (r.Path, r.Label, r.Group)).Should().Equal((Path.Combine(_dir, "train/x"), "de", "pkg1"), (Path.Combine(_dir, "train/y"), "fr", ""));
        File.WriteAllText(csv, "path,label\nonly-a-path\n");
        var act = () => BGptFiles.ListCsv(csv);
        act.Should().Throw<FormatException>().WithMessage("*train.csv, line 2*");
        var missing = () => BGptFiles.ListFolder(Path.Combine(_dir, "nope"));
        missing.Should().Throw<DirectoryNotFoundException>().WithMessage("*nope*");
    }

    [Fact]
    public void Large_files_are_read_as_two_ends_that_encode_exactly_like_the_whole_file()
    {
        var config = BGptConfig.Default;
        var rng = new Random(3);
        foreach (int length in new[] { 0, 100, 2 * FileWindowReader.WindowBytes, 2 * FileWindowReader.WindowBytes + 1, 300_007, 1_000_000 })
        {
            var content = new byte[length];
            rng.NextBytes(content);
            var path = Path.Combine(_dir, $"f{length}.bin");
            File.WriteAllBytes(path, content);
            var read = FileWindowReader.Read(path);
            read.Length.Should().BeLessThanOrEqualTo(2 * FileWindowReader.WindowBytes + FileWindowReader.Alignment);
            foreach (var strategy in new[] { TruncationStrategy.Head, TruncationStrategy.Tail, TruncationStrategy.HeadTail })
                ByteEncoder.Encode(read, "bin"u8, config, strategy).Should().Equal(ByteEncoder.Encode(content, "bin"u8, config, strategy), $"{length} bytes, {strategy}");
        }
    }
}
