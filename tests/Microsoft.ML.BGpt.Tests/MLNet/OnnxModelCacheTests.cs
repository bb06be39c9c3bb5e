using FluentAssertions;
using Microsoft.ML.BGpt.MLNet;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>The content-addressed graph files that checkpoint exports are streamed into (no managed copy of the graph).</summary>
public sealed class OnnxModelCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "bgpt-onnx-cache-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }

    [Fact]
    public void A_streamed_graph_lands_under_its_content_hash_once_and_leaves_no_temporaries()
    {
        var payload = new byte[300_000];
        new Random(7).NextBytes(payload);
        var first = OnnxModelCache.Store(stream => { stream.Write(payload, 0, 1000); stream.Write(payload, 1000, payload.Length - 1000); }, _dir);
        var second = OnnxModelCache.Store(stream => stream.Write(payload), _dir);
        second.Should().Be(first, "the same bytes, written in pieces or at once, are the same file");
        File.ReadAllBytes(first).Should().Equal(payload);
        payload[12345] ^= 1;
        OnnxModelCache.Store(stream => stream.Write(payload), _dir).Should().NotBe(first);
        Directory.GetFiles(_dir, "*.onnx").Should().HaveCount(2);
        Directory.GetFiles(_dir, "*.tmp").Should().BeEmpty();
    }

    [Fact]
    public void A_file_under_the_hash_with_other_bytes_is_replaced_not_served()
    {
        var payload = new byte[50_000];
        new Random(8).NextBytes(payload);
        var path = OnnxModelCache.Store(stream => stream.Write(payload), _dir);
        File.WriteAllBytes(path, new byte[] { 1, 2, 3 }); // damaged, or planted by someone else
        OnnxModelCache.Store(stream => stream.Write(payload), _dir).Should().Be(path);
        File.ReadAllBytes(path).Should().Equal(payload);
        if (!OperatingSystem.IsWindows())
            File.GetUnixFileMode(_dir).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, "the folder is its owner's only");
        OnnxModelCache.Folder.Should().StartWith(Path.GetTempPath()).And.Contain("bgpt-onnx-");
    }

    [Fact]
    public void Files_of_ended_processes_go_and_this_processs_stay_until_it_exits()
    {
        var payload = new byte[10_000];
        new Random(9).NextBytes(payload);
        var mine = OnnxModelCache.Store(stream => stream.Write(payload), _dir);
        Path.GetFileName(mine).Should().EndWith($".{Environment.ProcessId}.onnx");
        int gone = Enumerable.Range(0, 1000).Select(i => int.MaxValue - 1 - i).First(pid => !IsRunning(pid));
        var ended = Path.Combine(_dir, $"0123456789ABCDEF0123456789ABCDEF.{gone}.onnx");
        var odd = Path.Combine(_dir, $"1123456789ABCDEF0123456789ABCDEF.{Environment.ProcessId}.bak.onnx"); // no pid last: counts as old naming
        var oldName = Path.Combine(_dir, "2123456789ABCDEF0123456789ABCDEF.onnx");
        var freshOldName = Path.Combine(_dir, "3123456789ABCDEF0123456789ABCDEF.onnx");
        foreach (var f in new[] { ended, odd, oldName, freshOldName }) File.WriteAllBytes(f, payload);
        File.SetLastWriteTimeUtc(oldName, DateTime.UtcNow.AddDays(-8));
        File.SetLastWriteTimeUtc(odd, DateTime.UtcNow.AddDays(-8));

        payload[0] ^= 1;
        OnnxModelCache.Store(stream => stream.Write(payload), _dir);
        File.Exists(mine).Should().BeTrue("this process may still save a model that reads it");
        File.Exists(ended).Should().BeFalse("its process is gone");
        File.Exists(oldName).Should().BeFalse("a week-old file of the old naming has no owner to wait for");
        File.Exists(odd).Should().BeFalse();
        File.Exists(freshOldName).Should().BeTrue("a recent one may belong to a process of an older version");

        OnnxModelCache.RemoveOwnFiles(_dir); // what ProcessExit runs
        Directory.GetFiles(_dir).Should().Equal(freshOldName);
    }

    private static bool IsRunning(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    [Fact]
    public void A_failed_write_leaves_nothing_behind()
    {
        var act = () => OnnxModelCache.Store(stream => { stream.Write(new byte[10]); throw new InvalidDataException("export failed"); }, _dir);
        act.Should().Throw<InvalidDataException>();
        Directory.GetFiles(_dir).Should().BeEmpty();
    }
}
