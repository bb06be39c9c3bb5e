using System.Globalization;
using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Cli;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>The bgpt command line against the original's outputs.</summary>
public class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-cli-").FullName;
    private static string Fx(string p) => ReferenceFixtures.PathOf(p);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = BGptCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Info_describes_a_classifier_checkpoint()
    {
        var (code, output, _) = Run("info", Fx("cls.pth"));
        code.Should().Be(0);
        output.Should().Contain("classifier").And.Contain("hidden size:     128").And.Contain("irish.abc, noise.bin, prose.txt")
            .And.Contain("patch length:    32");
    }

    [Fact]
    public void Info_says_where_a_head_count_that_is_not_the_originals_comes_from()
    {
        Run("info", Fx("cls.pth")).Out.Should().Contain("heads:           2 (hidden / 64, as the original)");
        var four = Path.Combine(_dir, "four-heads.safetensors");
        BGptCheckpoint.Load(Fx("cls.pth"), numHeads: 4).Save(four, CheckpointFormat.Safetensors);
        var (code, output, _) = Run("info", four);
        code.Should().Be(0);
        output.Should().Contain("heads:           4 (from the file; the original's would be hidden / 64)");
    }

    [Fact]
    public void Classify_writes_the_original_logits()
    {
        var npy = Path.Combine(_dir, "logits.npy");
        var (code, output, _) = Run("classify", "-w", Fx("cls.pth"), "-o", npy, Fx("inputs/poem.txt"), Fx("inputs/tune.abc"));
        code.Should().Be(0);
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(2);
        var logits = Npy.ReadFloat32(npy, out var shape);
        shape.Should().Equal(2, 3);
        var expected = ReferenceFixtures.Floats("cases/05/cls_logits.npy").Concat(ReferenceFixtures.Floats("cases/07/cls_logits.npy"));
        logits.Zip(expected, (a, b) => Math.Abs(a - b)).Max().Should().BeLessThan(1e-4f);
    }

    [Fact]
    public void Embed_writes_the_original_pooled_features()
    {
        var npy = Path.Combine(_dir, "features.npy");
        Run("embed", "-w", Fx("lm.pth"), "-o", npy, Fx("inputs/poem.txt"), Fx("inputs/empty.bin")).Code.Should().Be(0);
        var features = Npy.ReadFloat32(npy, out var shape);
        shape.Should().Equal(2, 128);
        var expected = ReferenceFixtures.Floats("cases/05/pooled.npy").Concat(ReferenceFixtures.Floats("cases/00/pooled.npy"));
        features.Zip(expected, (a, b) => Math.Abs(a - b)).Max().Should().BeLessThan(1e-4f);
    }

    [Fact]
    public void Embed_takes_the_patch_decoder_of_a_classifier_checkpoint()
    {
        // cls.pth shares lm.pth's patch decoder, so its pooled features are the reference ones.
        var npy = Path.Combine(_dir, "features.npy");
        var (code, _, err) = Run("embed", "-w", Fx("cls.pth"), "-o", npy, Fx("inputs/poem.txt"));
        code.Should().Be(0, err);
        var features = Npy.ReadFloat32(npy, out var shape);
        shape.Should().Equal(1, 128);
        features.Zip(ReferenceFixtures.Floats("cases/05/pooled.npy"), (a, b) => Math.Abs(a - b)).Max().Should().BeLessThan(1e-4f);
    }

    [Fact]
    public void Loss_accepts_a_checkpoint_with_only_the_tied_lm_head()
    {
        var tree = (PickleDict)PthReader.Read(Fx("lm.state_dict.pth"))!;
        tree.Remove("byte_level_decoder.base.transformer.wte.weight").Should().BeTrue();
        var slim = Path.Combine(_dir, "slim.pth");
        PthWriter.Write(slim, tree);
        var full = Run("loss", "-w", Fx("lm.pth"), Fx("inputs/poem.txt"));
        var fromSlim = Run("loss", "-w", slim, Fx("inputs/poem.txt"));
        fromSlim.Code.Should().Be(0, fromSlim.Err);
        fromSlim.Out.Split('\n')[1].Split('\t')[1..].Should().Equal(full.Out.Split('\n')[1].Split('\t')[1..]);
    }

    [Fact]
    public void Loss_prints_the_original_loss_and_bits_per_byte()
    {
        var (code, output, _) = Run("loss", "-w", Fx("lm.pth"), Fx("inputs/poem.txt"));
        code.Should().Be(0);
        var fields = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Split('\t');
        double loss = double.Parse(fields[1], CultureInfo.InvariantCulture), bpb = double.Parse(fields[2], CultureInfo.InvariantCulture);
        loss.Should().BeApproximately(ReferenceFixtures.Floats("cases/05/lm_loss.npy")[0], 1e-5);
        bpb.Should().BeApproximately(loss / Math.Log(2), 1e-5);
    }

    [Theory]
    [InlineData(false, "generate_mode")]
    [InlineData(true, "convert_mode")]
    public void Generate_and_convert_give_the_original_greedy_bytes(bool convert, string id)
    {
        var outFile = Path.Combine(_dir, "out.abc");
        var args = new List<string> { "generate", "-w", Fx("lm.pth"), "--ext", "abc", "--patches", "2", "--top-k", "1", "-o", outFile };
        if (convert) args.AddRange(new[] { "--input", Fx("inputs/poem.txt") });
        Run(args.ToArray()).Code.Should().Be(0);
        var expected = ReferenceFixtures.Manifest.GetProperty("generation").EnumerateArray()
            .Single(g => g.GetProperty("id").GetString() == id).GetProperty("output_bytes").EnumerateArray().Select(e => (byte)e.GetInt32());
        File.ReadAllBytes(outFile).Should().Equal(expected);
    }

    [Fact]
    public void Export_onnx_writes_a_graph_that_gives_the_original_logits()
    {
        var onnx = Path.Combine(_dir, "cls.onnx");
        Run("export-onnx", "-w", Fx("cls.pth"), "-o", onnx, "--head", "classifier").Code.Should().Be(0);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx);
        var content = File.ReadAllBytes(Fx("inputs/poem.txt"));
        var inputs = new[]
        {
            Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("bytes", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<byte>(content, new[] { 1, content.Length })),
            Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("extension", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<byte>("txt"u8.ToArray(), new[] { 1, 3 })),
        };
        using var results = session.Run(inputs);
        var logits = results.Single(r => r.Name == "logits").AsEnumerable<float>().ToArray();
        logits.Zip(ReferenceFixtures.Floats("cases/05/cls_logits.npy"), (a, b) => Math.Abs(a - b)).Max().Should().BeLessThan(1e-4f);
        Run("export-onnx", "-w", Fx("cls.pth"), "-o", onnx, "--head", "bpb").Code.Should().NotBe(0);
    }

    [Fact]
    public void Outputs_leave_a_users_tmp_file_alone()
    {
        var npy = Path.Combine(_dir, "out.npy");
        var abc = Path.Combine(_dir, "out.abc");
        File.WriteAllText(npy + ".tmp", "keep");
        File.WriteAllText(abc + ".tmp", "keep");
        Run("classify", "-w", Fx("cls.pth"), "-o", npy, Fx("inputs/poem.txt")).Code.Should().Be(0);
        Run("generate", "-w", Fx("lm.pth"), "--ext", "abc", "--patches", "1", "-o", abc).Code.Should().Be(0);
        File.ReadAllText(npy + ".tmp").Should().Be("keep");
        File.ReadAllText(abc + ".tmp").Should().Be("keep");
        Npy.ReadFloat32(npy, out var shape);
        shape.Should().Equal(1, 3);
        Directory.GetFiles(_dir).Select(Path.GetFileName).Should().BeEquivalentTo("out.npy", "out.npy.tmp", "out.abc", "out.abc.tmp");
    }

    [Fact]
    public void A_model_that_is_not_a_zip_is_an_error_not_a_crash()
    {
        var data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(Path.Combine(data, "a"));
        File.WriteAllText(Path.Combine(data, "a", "x.txt"), "hello");
        var notAZip = Path.Combine(_dir, "model.txt");
        File.WriteAllText(notAZip, "not a model");
        var (code, _, err) = Run("evaluate", "--model", notAZip, "--data", data);
        code.Should().Be(1);
        err.Should().Contain("bgpt: error");
    }

    [Fact]
    public void A_csv_line_without_a_comma_is_an_error_not_a_crash()
    {
        var csv = Path.Combine(_dir, "files.csv");
        File.WriteAllText(csv, "path,label\nno-comma-here\n");
        var (code, _, err) = Run("evaluate", "--model", Path.Combine(_dir, "model.zip"), "--data", csv);
        code.Should().Be(1);
        err.Should().Contain("bgpt: error").And.Contain("files.csv");
    }

    [Fact]
    public void Errors_go_to_stderr_with_a_nonzero_exit_code()
    {
        var notACheckpoint = Run("info", Fx("inputs/poem.txt"));
        notACheckpoint.Code.Should().NotBe(0);
        notACheckpoint.Err.Should().Contain("poem.txt");

        var wrongKind = Run("classify", "-w", Fx("lm.pth"), Fx("inputs/poem.txt"));
        wrongKind.Code.Should().NotBe(0);
        wrongKind.Err.Should().Contain("language-model");

        var missingInput = Run("loss", "-w", Fx("lm.pth"), Path.Combine(_dir, "missing.bin"));
        missingInput.Code.Should().NotBe(0);
        missingInput.Err.Should().Contain("missing.bin");

        Run("loss").Code.Should().NotBe(0);
    }
}
