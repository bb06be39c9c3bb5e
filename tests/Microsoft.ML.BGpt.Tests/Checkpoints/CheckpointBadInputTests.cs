using System.Text;
using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

public class CheckpointBadInputTests
{
    private readonly string _dir = CheckpointFixtures.TempDir();

    private string WriteFile(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static BGptCheckpointException LoadFails(string path)
    {
        var act = () => BGptCheckpoint.Load(path);
        var e = act.Should().Throw<BGptCheckpointException>().Which;
        e.Message.Should().Contain(path);
        e.FilePath.Should().Be(path);
        return e;
    }

    [Fact]
    public void TruncatedFile()
    {
        var bytes = File.ReadAllBytes(CheckpointFixtures.PathOf("cls_after_step.state_dict.pth"));
        LoadFails(WriteFile("truncated.pth", bytes[..(bytes.Length / 2)]));
        LoadFails(WriteFile("empty.pth", []));
    }

    [Fact]
    public void RandomBytes()
    {
        var bytes = new byte[4096];
        new Random(42).NextBytes(bytes);
        LoadFails(WriteFile("random.pth", bytes)).Message.Should().Contain("not a torch checkpoint");
        LoadFails(WriteFile("random.safetensors", bytes));
    }

    [Fact]
    public void ZipWithoutDataPickle()
    {
        var zip = PthReaderTests.Zip(("archive/version", "3\n"u8.ToArray()), ("archive/data/0", new byte[16]));
        LoadFails(WriteFile("nopkl.pth", zip)).Message.Should().Contain("data.pkl");
    }

    [Fact]
    public void MissingOrShortStorageRecord()
    {
        var original = File.ReadAllBytes(CheckpointFixtures.PathOf("cls_after_step.state_dict.pth"));
        using var src = new System.IO.Compression.ZipArchive(new MemoryStream(original));
        var entries = src.Entries.Select(e => (e.FullName, Read(e))).ToList();
        var withoutStorage = entries.Where(e => !e.FullName.EndsWith("/data/3")).ToArray();
        LoadFails(WriteFile("missing.pth", PthReaderTests.Zip(withoutStorage))).Message.Should().Contain("data/3").And.Contain("missing");
        var shortened = entries.Select(e => e.FullName.EndsWith("/data/3") ? (e.FullName, e.Item2[..4]) : e).ToArray();
        LoadFails(WriteFile("short.pth", PthReaderTests.Zip(shortened))).Message.Should().Contain("too short");
    }

    [Fact]
    public void DisallowedGlobalIsRejectedWithoutRunningIt()
    {
        // Protocol 2: GLOBAL os.system, the argument tuple ('echo pwned',), REDUCE, STOP.
        var pickle = new List<byte> { 0x80, 2 };
        pickle.AddRange(Encoding.ASCII.GetBytes("cos\nsystem\n"));
        pickle.Add((byte)'X');
        pickle.AddRange(BitConverter.GetBytes(10));
        pickle.AddRange(Encoding.ASCII.GetBytes("echo pwned"));
        pickle.AddRange(new byte[] { 0x85, (byte)'R', (byte)'.' });
        var path = WriteFile("evil.pth", PthReaderTests.Zip(("evil/data.pkl", pickle.ToArray()), ("evil/version", "3\n"u8.ToArray())));
        var e = LoadFails(path);
        e.Should().BeOfType<DisallowedPickleGlobalException>().Which.Global.Should().Be("os.system");
        e.Message.Should().Contain("os.system");

        // The protocol 4 spelling (STACK_GLOBAL) is caught as well.
        var p4 = new List<byte> { 0x80, 4, 0x8c, 8 };
        p4.AddRange(Encoding.ASCII.GetBytes("builtins"));
        p4.AddRange(new byte[] { 0x94, 0x8c, 4 });
        p4.AddRange(Encoding.ASCII.GetBytes("eval"));
        p4.AddRange(new byte[] { 0x94, 0x93, (byte)'.' });
        var path4 = WriteFile("evil4.pth", PthReaderTests.Zip(("a/data.pkl", p4.ToArray())));
        LoadFails(path4).Should().BeOfType<DisallowedPickleGlobalException>().Which.Global.Should().Be("builtins.eval");
    }

    [Fact]
    public void WrongShapeTensorNamesTheTensorAndBothShapes()
    {
        var tree = (PickleDict)PthReader.Read(CheckpointFixtures.PathOf("lm.state_dict.pth"))!;
        const string key = "patch_level_decoder.base.h.1.attn.c_proj.weight";
        tree[key] = TensorData.FromFloats(new float[128 * 64], [128, 64]);
        var path = Path.Combine(_dir, "wrong.pth");
        PthWriter.Write(path, tree);
        var e = LoadFails(path);
        e.TensorKey.Should().Be(key);
        e.Message.Should().Contain(key).And.Contain("[128, 128]").And.Contain("[128, 64]");
    }

    [Fact]
    public void PickleThatIsNotABGptCheckpoint()
    {
        var path = Path.Combine(_dir, "other.pth");
        PthWriter.Write(path, new PickleDict(true) { ["encoder.weight"] = TensorData.FromFloats([1f], [1]) });
        LoadFails(path).Message.Should().Contain("patch_level_decoder");
        PthWriter.Write(path, new List<object?> { 1L, "x" });
        LoadFails(path).Message.Should().Contain("not a bGPT checkpoint");
    }

    [Fact]
    public void UnsupportedDtypeInSafetensors()
    {
        var json = Encoding.UTF8.GetBytes("{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}");
        var bytes = BitConverter.GetBytes((long)json.Length).Concat(json).Concat(new byte[8]).ToArray();
        var e = LoadFails(WriteFile("c64.safetensors", bytes));
        e.TensorKey.Should().Be("a");
        e.Message.Should().Contain("C64");
    }

    [Fact]
    public void SafetensorsMetadataThatIsNotAnObject()
    {
        var json = Encoding.UTF8.GetBytes("{\"__metadata__\":[1,2],\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
        var bytes = BitConverter.GetBytes((long)json.Length).Concat(json).Concat(new byte[4]).ToArray();
        LoadFails(WriteFile("meta.safetensors", bytes)).Message.Should().Contain("'__metadata__' is not an object");
    }

    [Fact]
    public void EmptyOptimizerStepTensorNamesTheParameter()
    {
        var tree = (PickleDict)PthReader.Read(CheckpointFixtures.PathOf("lm.pth"))!;
        var state = (PickleDict)((PickleDict)tree["optimizer"]!)["state"]!;
        var (index, entry) = state.First();
        ((PickleDict)entry!)["step"] = TensorData.FromFloats([], [0]);
        var path = Path.Combine(_dir, "emptystep.pth");
        PthWriter.Write(path, tree);
        var key = BGptCheckpoint.Load(CheckpointFixtures.PathOf("lm.pth")).ParameterNames[(int)(long)index];
        var e = LoadFails(path);
        e.TensorKey.Should().Be(key);
        e.Message.Should().Contain("step");
    }

    [Fact]
    public void MissingFile() => LoadFails(Path.Combine(_dir, "nope.pth")).Message.Should().Contain("not found");

    private static byte[] Read(System.IO.Compression.ZipArchiveEntry e)
    {
        using var s = e.Open();
        var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }
}

public class CheckpointCorruptionTests
{
    [Fact]
    public void RandomlyCorruptedPicklesOnlyEverThrowTheTypedException()
    {
        var original = File.ReadAllBytes(CheckpointFixtures.PathOf("cls_after_step.state_dict.pth"));
        using var src = new System.IO.Compression.ZipArchive(new MemoryStream(original));
        var entries = src.Entries.Select(e => { using var s = e.Open(); var ms = new MemoryStream(); s.CopyTo(ms); return (e.FullName, Data: ms.ToArray()); }).ToList();
        int pkl = entries.FindIndex(e => e.FullName.EndsWith("/data.pkl"));
        var rng = new Random(7);
        for (int trial = 0; trial < 300; trial++)
        {
            var corrupted = entries.ToArray();
            var data = (byte[])entries[pkl].Data.Clone();
            for (int k = 0; k < 1 + trial % 4; k++) data[rng.Next(data.Length)] = (byte)rng.Next(256);
            if (trial % 10 == 0) data = data[..rng.Next(data.Length)];
            corrupted[pkl] = (entries[pkl].FullName, data);
            var bytes = PthReaderTests.Zip(corrupted);
            try { PthReader.Read(new MemoryStream(bytes), "fuzz.pth"); }
            catch (BGptCheckpointException e) { e.FilePath.Should().Be("fuzz.pth"); }
        }
    }
}
