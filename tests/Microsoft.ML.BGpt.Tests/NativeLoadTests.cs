using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>
/// Checks that TorchSharp's native backend loads. On Debian 12 this depends on the build's
/// native fix (build/Microsoft.ML.BGpt.NativeFix.targets), which marks libLibTorchSharp.so's
/// GLIBCXX_3.4.32 requirement weak in the build output.
/// </summary>
public class NativeLoadTests
{
    [Fact]
    public void Torch_initializes_and_multiplies_matrices()
    {
        using var a = torch.tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
        using var b = torch.ones(2, 2).mul(2);
        using var c = a.matmul(b);

        c.shape.Should().Equal(2L, 2L);
        c[0, 0].item<float>().Should().Be(6f);  // (1 + 2) * 2
        c[1, 1].item<float>().Should().Be(14f); // (3 + 4) * 2
    }

    [Fact]
    public void LibTorchSharp_next_to_tests_has_weak_glibcxx_3_4_32_requirement()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            return; // the fix only applies to (and only runs on) Linux

        var candidates = new[]
        {
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
            Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so"),
        };
        var path = candidates.FirstOrDefault(File.Exists);
        path.Should().NotBeNull("libLibTorchSharp.so should be copied next to the test assembly");

        var needs = ElfVersionNeeds.Read(path!);
        needs.Should().Contain(n => n.Name.StartsWith("GLIBCXX_"), "the reader should see libstdc++ requirements");
        var v32 = needs.Where(n => n.Name == "GLIBCXX_3.4.32").ToList();
        v32.Should().NotBeEmpty("TorchSharp 0.107.0 requires GLIBCXX_3.4.32");
        v32.Should().OnlyContain(n => (n.Flags & ElfVersionNeeds.VerFlgWeak) != 0,
            $"the build should have marked GLIBCXX_3.4.32 weak in {path}");
    }

    /// <summary>Compact read-only ELF64 LE reader for .gnu.version_r (mirrors the build task's parser).</summary>
    internal static class ElfVersionNeeds
    {
        public const ushort VerFlgWeak = 0x2;
        private const uint ShtStrtab = 3, ShtGnuVerneed = 0x6ffffffe;

        public sealed record Need(string File, string Name, ushort Flags);

        public static List<Need> Read(string path)
        {
            var d = File.ReadAllBytes(path);
            if (d.Length < 64 || d[0] != 0x7f || d[1] != 'E' || d[2] != 'L' || d[3] != 'F' || d[4] != 2 || d[5] != 1)
                throw new InvalidDataException($"{path} is not an ELF64 little-endian file");

            ushort U16(long o) => BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(checked((int)o)));
            uint U32(long o) => BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(checked((int)o)));
            ulong U64(long o) => BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(checked((int)o)));

            long shoff = (long)U64(0x28);
            int shentsize = U16(0x3A);
            int shnum = U16(0x3C);
            int shstrndx = U16(0x3E);

            (uint Name, uint Type, long Offset, long Size, uint Link, uint Info) Section(int i)
            {
                long h = shoff + (long)i * shentsize;
                return (U32(h), U32(h + 4),
                        (long)U64(h + 0x18), (long)U64(h + 0x20),
                        U32(h + 0x28), U32(h + 0x2C));
            }

            string Str(long tableOffset, long tableSize, uint offset)
            {
                if (offset >= tableSize) throw new InvalidDataException("string offset out of range");
                int start = checked((int)(tableOffset + offset));
                int end = Array.IndexOf(d, (byte)0, start);
                if (end < 0 || end >= tableOffset + tableSize) throw new InvalidDataException("unterminated string");
                return System.Text.Encoding.ASCII.GetString(d, start, end - start);
            }

            var shstr = Section(shstrndx);
            if (shstr.Type != ShtStrtab) throw new InvalidDataException("bad e_shstrndx");
            var result = new List<Need>();
            for (int i = 0; i < shnum; i++)
            {
                var s = Section(i);
                if (Str(shstr.Offset, shstr.Size, s.Name) != ".gnu.version_r") continue;
                if (s.Type != ShtGnuVerneed) throw new InvalidDataException(".gnu.version_r has the wrong type");
                var strtab = Section((int)s.Link);
                long vn = s.Offset;
                for (uint n = 0; n < s.Info; n++)
                {
                    int vnCnt = U16(vn + 2);
                    string file = Str(strtab.Offset, strtab.Size, U32(vn + 4));
                    long aux = vn + U32(vn + 8);
                    for (int j = 0; j < vnCnt; j++)
                    {
                        result.Add(new Need(file,
                            Str(strtab.Offset, strtab.Size, U32(aux + 8)),
                            U16(aux + 4)));
                        aux += U32(aux + 12);
                    }
                    vn += U32(vn + 12);
                }
            }
            return result;
        }
    }
}
