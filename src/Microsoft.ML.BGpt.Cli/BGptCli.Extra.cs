using System.CommandLine;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Onnx;

namespace Microsoft.ML.BGpt.Cli;

using Command = System.CommandLine.Command;

public static partial class BGptCli
{
    private static partial IEnumerable<Command> ExtraCommands(TextWriter stdout) => new[] { ExportOnnx(stdout) }.Concat(TrainingCommands(stdout));

    private static Command ExportOnnx(TextWriter o)
    {
        var weights = WeightsOption();
        var output = new Option<string>("--out", "-o") { Description = "Output .onnx file.", Required = true };
        var head = new Option<string>("--head") { Description = "features (mean-pooled patch features), classifier (logits and probabilities) or bpb (LM loss and bits per byte).", DefaultValueFactory = _ => "features" };
        head.AcceptOnlyFromAmong("features", "classifier", "bpb");
        var truncation = new Option<string>("--truncation") { Description = "How long inputs are cut: head, tail or headtail.", DefaultValueFactory = _ => "head" };
        truncation.AcceptOnlyFromAmong("head", "tail", "headtail");
        var cmd = new Command("export-onnx", "Export a checkpoint as an ONNX graph (inputs: bytes uint8 [1, n], extension uint8 [1, e]; see docs/onnx.md).") { weights, output, head, truncation };
        cmd.SetAction(r =>
        {
            var path = r.GetValue(weights)!;
            var ckpt = BGptCheckpoint.Load(path);
            var options = new BGptOnnxOptions
            {
                Head = r.GetValue(head) switch { "classifier" => OnnxHead.Classifier, "bpb" => OnnxHead.BitsPerByte, _ => OnnxHead.Features },
                Truncation = r.GetValue(truncation) switch { "tail" => TruncationStrategy.Tail, "headtail" => TruncationStrategy.HeadTail, _ => TruncationStrategy.Head },
                Labels = ckpt.Labels,
                Source = path,
            };
            if (options.Head == OnnxHead.Classifier && ckpt.Kind != BGptCheckpointKind.Classifier)
                throw new ArgumentException($"'{path}' is a language model; --head classifier needs a classifier checkpoint.");
            if (options.Head == OnnxHead.BitsPerByte && ckpt.Kind != BGptCheckpointKind.LanguageModel)
                throw new ArgumentException($"'{path}' is a classifier; --head bpb needs a language-model checkpoint.");
            BGptOnnxExporter.Export(ckpt.Weights, ckpt.Config, r.GetValue(output)!, options);
            o.WriteLine($"wrote {r.GetValue(output)} ({options.Head}, {options.Truncation} truncation, opset {options.Opset})");
            return 0;
        });
        return cmd;
    }

    /// <summary>train / pretrain / evaluate (see BGptCli.Training.cs).</summary>
    private static partial IEnumerable<Command> TrainingCommands(TextWriter stdout);
}
