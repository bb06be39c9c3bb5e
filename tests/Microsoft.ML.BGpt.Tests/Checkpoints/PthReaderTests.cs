using System.IO.Compression;
using System.Text;
using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

public class PthReaderTests
{
    [Theory]
    [InlineData("lm.state_dict.pth", "lm.state_dict.pth", false)]
    [InlineData("lm.pth", "lm.state_dict.pth", true)]
    [InlineData("cls.pth", "cls.pth", true)]
    public void ReadsEveryTensorWithManifestShapeAndDtype(string file, string manifestEntry, bool training)
    {
        var root = (PickleDict)PthReader.Read(CheckpointFixtures.PathOf(file))!;
        var model = training ? (PickleDict)root["model"]! : root;
        var expected = CheckpointFixtures.Tensors(manifestEntry);

        model.Keys.Should().Equal(expected.Select(e => (object)e.Key), "the state dict keeps its order");
        foreach (var (key, shape, dtype) in expected)
        {
            var t = (TensorData)model[key]!;
            t.Shape.Should().Equal(shape, key);
            CheckpointFixtures.NumpyName(t.DType).Should().Be(dtype, key);
        }
        model.IsOrderedDict.Should().BeTrue();
        ((PickleDict)model.Attributes!.Get("_metadata")!).Get("").Should().NotBeNull("torch keeps _metadata as the OrderedDict's attribute");
    }

    [Fact]
    public void ReadsTrainingCheckpointTopLevelKeysAndBuffers()
    {
        var root = (PickleDict)PthReader.Read(CheckpointFixtures.PathOf("lm.pth"))!;
        var expectedKeys = CheckpointFixtures.Checkpoint("lm.pth").GetProperty("top_level_keys").EnumerateArray().Select(k => (object)k.GetString()!);
        root.Keys.Should().Equal(expectedKeys);
        root["epoch"].Should().Be(1L);
        root["min_eval_loss"].Should().Be(CheckpointFixtures.Checkpoint("lm.pth").GetProperty("min_eval_loss").GetDouble());

        var model = (PickleDict)root["model"]!;
        var mask = (TensorData)model["patch_level_decoder.base.h.0.attn.bias"]!;
        mask.DType.Should().Be(TensorDType.UInt8);
        var m = mask.Data;
        for (int r = 0; r < 32; r++)
            for (int c = 0; c < 32; c++)
                m[r * 32 + c].Should().Be((byte)(c <= r ? 1 : 0));
        ((TensorData)model["patch_level_decoder.base.h.0.attn.masked_bias"]!).ToFloatArray().Should().Equal(-1e4f);
        var sched = (PickleDict)root["lr_sched"]!;
        sched["lr_lambdas"].Should().BeEquivalentTo(new List<object?> { null });
    }

    [Fact]
    public void GathersNonContiguousViewsBySharedStorageOffsetAndStrides()
    {
        // storage = [0, 1, 2, 3, 4, 5, 6]; view A = offset 1, shape (2, 3), strides (1, 2) (a transposed view);
        // view B = offset 4, shape (3,), stride (1,), sharing the same storage record.
        var storage = new byte[7 * 4];
        for (int i = 0; i < 7; i++) BitConverter.GetBytes((float)i).CopyTo(storage, i * 4);
        var pickle = new List<byte> { 0x80, 2, (byte)'}', (byte)'(' };
        void Str(string s) { pickle.Add((byte)'X'); pickle.AddRange(BitConverter.GetBytes(s.Length)); pickle.AddRange(Encoding.ASCII.GetBytes(s)); }
        void Int(int v) { pickle.Add((byte)'K'); pickle.Add((byte)v); }
        void Tensor(int offset, int[] shape, int[] strides)
        {
            pickle.AddRange(Encoding.ASCII.GetBytes("ctorch._utils\n_rebuild_tensor_v2\n(("));
            Str("storage");
            pickle.AddRange(Encoding.ASCII.GetBytes("ctorch\nFloatStorage\n"));
            Str("0"); Str("cpu"); Int(7);
            pickle.AddRange("tQ"u8.ToArray());
            Int(offset);
            pickle.Add((byte)'('); foreach (var s in shape) Int(s); pickle.Add((byte)'t');
            pickle.Add((byte)'('); foreach (var s in strides) Int(s); pickle.Add((byte)'t');
            pickle.Add(0x89);
            pickle.AddRange(Encoding.ASCII.GetBytes("ccollections\nOrderedDict\n)Rt"));
            pickle.Add((byte)'R');
        }
        Str("a"); Tensor(1, [2, 3], [1, 2]);
        Str("b"); Tensor(4, [3], [1]);
        pickle.AddRange("u."u8.ToArray());
        var bytes = Zip(("x/data.pkl", pickle.ToArray()), ("x/data/0", storage), ("x/version", "3\n"u8.ToArray()));

        var root = (PickleDict)PthReader.Read(new MemoryStream(bytes), "hand-made.pth")!;
        ((TensorData)root["a"]!).ToFloatArray().Should().Equal(1, 3, 5, 2, 4, 6);
        ((TensorData)root["b"]!).ToFloatArray().Should().Equal(4, 5, 6);
    }

    [Fact]
    public void ConvertsHalfBFloat16AndDoubleToFloats()
    {
        var half = new TensorData(TensorDType.Float16, [2], [.. BitConverter.GetBytes((Half)1.5), .. BitConverter.GetBytes((Half)(-2))]);
        half.ToFloatArray().Should().Equal(1.5f, -2f);
        var bf = new TensorData(TensorDType.BFloat16, [1], BitConverter.GetBytes((ushort)(BitConverter.SingleToInt32Bits(3.25f) >> 16)));
        bf.ToFloatArray().Should().Equal(3.25f);
        new TensorData(TensorDType.Float64, [1], BitConverter.GetBytes(0.5)).ToFloatArray().Should().Equal(0.5f);
    }

    internal static byte[] Zip(params (string Name, byte[] Data)[] entries)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, data) in entries)
                using (var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open()) s.Write(data);
        return ms.ToArray();
    }
}
