using System.Text;
using FluentAssertions;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

public class ByteEncoderTests
{
    private static readonly BGptConfig Config = ReferenceFixtures.Config;

    [Theory]
    [MemberData(nameof(ReferenceFixtures.CaseIds), MemberType = typeof(ReferenceFixtures))]
    public void Tokens_match_the_original_read_bytes(string id)
    {
        var c = ReferenceFixtures.Case(id);
        var path = ReferenceFixtures.PathOf(c.GetProperty("input").GetString()!);
        var expected = ReferenceFixtures.Ints($"cases/{id}/tokens.npy");
        var tokens = ByteEncoder.EncodeFile(path, Config);

        if (id == "11")
        {
            // Deliberate deviation: no extension -> an all-256 extension patch, not the path string.
            tokens.Take(16).Should().OnlyContain(t => t == 256);
            tokens.Skip(16).Should().Equal(expected.Skip(16));
        }
        else tokens.Should().Equal(expected);
        c.GetProperty("n_patches").GetInt32().Should().Be(tokens.Length / 16);
    }

    [Theory]
    [MemberData(nameof(ReferenceFixtures.CaseIds), MemberType = typeof(ReferenceFixtures))]
    public void In_memory_and_streamed_encodings_agree(string id)
    {
        var path = ReferenceFixtures.PathOf(ReferenceFixtures.Case(id).GetProperty("input").GetString()!);
        var ext = ByteEncoder.ExtensionBytes(ByteEncoder.ExtensionOf(path), 16);
        foreach (var strategy in new[] { TruncationStrategy.Head, TruncationStrategy.Tail, TruncationStrategy.HeadTail })
            ByteEncoder.Encode(File.ReadAllBytes(path), ext, Config, strategy)
                .Should().Equal(ByteEncoder.EncodeFile(path, Config, strategy));
    }

    [Theory]
    [InlineData("a/b/archive.tar.gz", "gz")]
    [InlineData("dir.v2/README", "")]
    [InlineData("file.", "")]
    [InlineData(".bashrc", "bashrc")]
    [InlineData("x.averyveryverylongextension", "averyveryverylongextension")]
    public void Extension_is_the_text_after_the_file_names_last_dot(string path, string expected) =>
        ByteEncoder.ExtensionOf(path).Should().Be(expected);

    [Fact]
    public void Long_extensions_are_cut_at_the_patch_size_even_inside_a_character()
    {
        var bytes = ByteEncoder.ExtensionBytes("abcdefgéhijklmé", 16);
        bytes.Should().Equal(new byte[] { 97, 98, 99, 100, 101, 102, 103, 195, 169, 104, 105, 106, 107, 108, 109, 195 });
    }

    [Fact]
    public void Empty_content_is_an_extension_patch_and_an_end_patch()
    {
        var tokens = ByteEncoder.Encode(ReadOnlySpan<byte>.Empty, "bin"u8, Config);
        tokens.Should().Equal(new[] { 98, 105, 110 }.Concat(Enumerable.Repeat(256, 13 + 16)));
    }

    private static byte[] Content(int length) => Enumerable.Range(0, length).Select(i => (byte)(i % 251)).ToArray();

    [Fact]
    public void Tail_keeps_the_last_patches_including_the_end_patch()
    {
        var content = Content(1000); // 63 content patches + 2 > 32
        var tokens = ByteEncoder.Encode(content, "bin"u8, Config, TruncationStrategy.Tail);
        tokens.Should().HaveCount(32 * 16);
        tokens.TakeLast(16).Should().OnlyContain(t => t == 256);
        tokens.Should().Equal(FullSequence(content).TakeLast(32 * 16));
    }

    /// <summary>The untruncated sequence, written independently of the encoder.</summary>
    private static int[] FullSequence(byte[] content)
    {
        var padded = content.Select(b => (int)b).ToList();
        while (padded.Count % 16 != 0) padded.Add(256);
        return new[] { 98, 105, 110 }.Concat(Enumerable.Repeat(256, 13)).Concat(padded).Concat(Enumerable.Repeat(256, 16)).ToArray();
    }

    [Fact]
    public void HeadTail_keeps_the_extension_patch_the_start_and_the_end()
    {
        var content = Content(1000);
        var full = FullSequence(content);
        var tokens = ByteEncoder.Encode(content, "bin"u8, Config, TruncationStrategy.HeadTail);
        tokens.Should().Equal(full.Take(16 * 16).Concat(full.TakeLast(16 * 16)));
    }

    [Fact]
    public void RandomCrop_is_seeded_and_picks_head_body_or_tail_windows_of_the_full_sequence()
    {
        var content = Content(2000);
        var full = FullSequence(content);
        int patches = full.Length / 16;
        var seen = new HashSet<string>();
        for (int seed = 0; seed < 40; seed++)
        {
            var a = ByteEncoder.Encode(content, "bin"u8, Config, TruncationStrategy.RandomCrop, new Random(seed));
            a.Should().Equal(ByteEncoder.Encode(content, "bin"u8, Config, TruncationStrategy.RandomCrop, new Random(seed)));
            a.Should().HaveCount(32 * 16);
            int start = Enumerable.Range(0, patches - 31).First(s => full.Skip(s * 16).Take(32 * 16).SequenceEqual(a));
            seen.Add(start == 0 ? "head" : start == patches - 32 ? "tail" : "body");
        }
        seen.Should().BeEquivalentTo(new[] { "head", "body", "tail" });
    }

    [Fact]
    public void RandomCrop_without_a_Random_is_an_error()
    {
        var act = () => ByteEncoder.Encode(Content(2000), "bin"u8, Config, TruncationStrategy.RandomCrop);
        act.Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void Missing_file_error_names_the_path()
    {
        var act = () => ByteEncoder.EncodeFile("/nonexistent/dir/file.bin", Config);
        act.Should().Throw<FileNotFoundException>().WithMessage("*/nonexistent/dir/file.bin*");
    }

    [Fact]
    public void Reading_a_long_file_reads_only_the_kept_ranges()
    {
        var stream = new CountingStream(new byte[10_000_000]);
        ByteEncoder.EncodeStream(stream, "bin"u8, Config, TruncationStrategy.HeadTail);
        stream.BytesRead.Should().BeLessThan(32 * 16);
    }

    private sealed class CountingStream(byte[] data) : MemoryStream(data)
    {
        public long BytesRead { get; private set; }
        public override int Read(byte[] buffer, int offset, int count) { int n = base.Read(buffer, offset, count); BytesRead += n; return n; }
    }
}
