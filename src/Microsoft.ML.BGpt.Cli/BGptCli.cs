using System.CommandLine;
using System.Globalization;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;

namespace Microsoft.ML.BGpt.Cli;

using Command = System.CommandLine.Command;

/// <summary>The <c>bgpt</c> command line: inspect checkpoints, embed, classify, score and generate files.</summary>
public static partial class BGptCli
{
    /// <summary>Runs the command line; returns the exit code (0 on success).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("bgpt: byte-level GPT (bGPT) checkpoints from the shell. Inputs are encoded as the original's inference: head truncation.");
        root.Subcommands.Add(Info(stdout));
        root.Subcommands.Add(Embed(stdout));
        root.Subcommands.Add(Classify(stdout));
        root.Subcommands.Add(Loss(stdout));
        root.Subcommands.Add(Generate(stdout));
        foreach (var extra in ExtraCommands(stdout)) root.Subcommands.Add(extra);
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            return root.Parse(args).Invoke(config);
        }
        // Any failure (bad input files, a diverged run, ...) is a message and exit code 1, never a stack trace;
        // out of memory is left to crash, as the process may not be able to do anything else.
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"bgpt: error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Commands added by other parts of the tool (ONNX export, training).</summary>
    private static partial IEnumerable<Command> ExtraCommands(TextWriter stdout);

    private static Option<string> WeightsOption(string description = "Checkpoint: the original's .pth (training checkpoint or state dict) or .safetensors.") =>
        new("--weights", "-w") { Description = description, Required = true };

    private static Argument<string[]> FilesArgument() => new("files") { Description = "Input files.", Arity = ArgumentArity.OneOrMore };

    private static Command Info(TextWriter o)
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "A .pth or .safetensors checkpoint." };
        var cmd = new Command("info", "Kind, inferred configuration, parameter count and labels of a checkpoint.") { checkpoint };
        cmd.SetAction(r =>
        {
            var path = r.GetValue(checkpoint)!;
            var ckpt = BGptCheckpoint.Load(path);
            var c = ckpt.Config;
            long parameters = ckpt.ParameterNames.Where(ckpt.Weights.ContainsKey).Sum(n => ckpt.Weights[n].ElementCount);
            o.WriteLine($"file:            {path}");
            o.WriteLine($"kind:            {(ckpt.Kind == BGptCheckpointKind.LanguageModel ? "language model (patch + byte decoders)" : "classifier (patch decoder + linear head)")}");
            o.WriteLine($"patch size:      {c.PatchSize}");
            o.WriteLine($"patch length:    {c.PatchLength} patches ({c.MaxTokens} tokens)");
            o.WriteLine($"hidden size:     {c.HiddenSize}");
            o.WriteLine($"patch layers:    {c.PatchNumLayers}");
            o.WriteLine($"byte layers:     {(ckpt.Kind == BGptCheckpointKind.LanguageModel ? c.ByteNumLayers.ToString(CultureInfo.InvariantCulture) : "-")}");
            o.WriteLine($"heads:           {c.NumHeads}{(c.NumHeads == Math.Max(1, c.HiddenSize / 64) ? " (hidden / 64, as the original)" : " (from the file; the original's would be hidden / 64)")}");
            o.WriteLine($"inner size:      {c.InnerSize}");
            o.WriteLine($"parameters:      {parameters:N0}");
            if (ckpt.Labels is { } labels) o.WriteLine($"labels:          {labels.Count}: {string.Join(", ", labels)}");
            else if (ckpt.Kind == BGptCheckpointKind.Classifier) o.WriteLine($"labels:          {ckpt.Weights["classifier.weight"].Shape[0]} (names not stored)");
            if (ckpt.Epoch is { } epoch) o.WriteLine($"epoch:           {epoch} (best {ckpt.BestEpoch?.ToString(CultureInfo.InvariantCulture) ?? "?"})");
            if (ckpt.MinEvalLoss is { } loss) o.WriteLine($"min eval loss:   {loss.ToString("G6", CultureInfo.InvariantCulture)}");
            if (ckpt.MaxEvalAccuracy is { } acc) o.WriteLine($"max eval acc:    {acc.ToString("G6", CultureInfo.InvariantCulture)}");
            o.WriteLine($"optimizer state: {(ckpt.Optimizer is null ? "no" : "yes (AdamW)")}");
            return 0;
        });
        return cmd;
    }

    private static Command Embed(TextWriter o)
    {
        var weights = WeightsOption();
        var output = new Option<string>("--out", "-o") { Description = "Output .npy: float32 [files, hidden].", Required = true };
        var files = FilesArgument();
        var cmd = new Command("embed", "Mean-pooled patch features of each file, written as a float32 .npy of shape [files, hidden].") { weights, output, files };
        cmd.SetAction(r =>
        {
            var path = r.GetValue(weights)!;
            var ckpt = BGptCheckpoint.Load(path);
            using var model = BGptModels.ClassifierFromPretrained(ckpt, 1, path);
            model.eval();
            var inputs = r.GetValue(files)!;
            var rows = inputs.Select(f => Inference.Features(model.PatchDecoder, f, ckpt.Config)).ToList();
            NpyWriter.Write(r.GetValue(output)!, rows.SelectMany(x => x).ToArray(), rows.Count, ckpt.Config.HiddenSize);
            o.WriteLine($"wrote {rows.Count} x {ckpt.Config.HiddenSize} features to {r.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    private static Command Classify(TextWriter o)
    {
        var weights = WeightsOption("Classifier checkpoint (.pth or .safetensors).");
        var output = new Option<string?>("--out", "-o") { Description = "Optional .npy for the logits, float32 [files, labels]." };
        var files = FilesArgument();
        var cmd = new Command("classify", "Label and class probabilities of each file.") { weights, output, files };
        cmd.SetAction(r =>
        {
            var path = r.GetValue(weights)!;
            var ckpt = BGptCheckpoint.Load(path);
            using var model = BGptModels.Classifier(ckpt, path);
            var labels = ckpt.Labels ?? Enumerable.Range(0, model.LabelCount).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList();
            var all = new List<float[]>();
            foreach (var file in r.GetValue(files)!)
            {
                var logits = Inference.Logits(model, file);
                all.Add(logits);
                var p = Inference.Softmax(logits);
                int best = Array.IndexOf(p, p.Max());
                o.WriteLine($"{file}\t{labels[best]}\t" + string.Join(" ", labels.Select((l, i) => $"{l}={p[i].ToString("F4", CultureInfo.InvariantCulture)}")));
            }
            if (r.GetValue(output) is { } npy) NpyWriter.Write(npy, all.SelectMany(x => x).ToArray(), all.Count, labels.Count);
            return 0;
        });
        return cmd;
    }

    private static Command Loss(TextWriter o)
    {
        var weights = WeightsOption("Language-model checkpoint (.pth or .safetensors).");
        var files = FilesArgument();
        var cmd = new Command("loss", "The LM loss of each file (nats per predicted symbol, as the original reports it) and bits per byte (loss / ln 2).") { weights, files };
        cmd.SetAction(r =>
        {
            var path = r.GetValue(weights)!;
            using var model = BGptModels.LoadLanguageModel(path);
            o.WriteLine("file\tloss_nats\tbits_per_byte");
            foreach (var file in r.GetValue(files)!)
            {
                double loss = Inference.Loss(model, file);
                o.WriteLine($"{file}\t{loss.ToString("F6", CultureInfo.InvariantCulture)}\t{(loss / Math.Log(2)).ToString("F6", CultureInfo.InvariantCulture)}");
            }
            return 0;
        });
        return cmd;
    }

    private static Command Generate(TextWriter o)
    {
        var weights = WeightsOption("Language-model checkpoint (.pth or .safetensors).");
        var ext = new Option<string>("--ext") { Description = "Target file extension (its bytes form the prefix patch), e.g. abc.", Required = true };
        var input = new Option<string?>("--input", "-i") { Description = "Convert this file: its encoding without the end patch, then the target extension's patch." };
        var patches = new Option<int?>("--patches") { Description = "Stop after this many generated patches (default: until the end marker or the patch budget)." };
        var topK = new Option<int>("--top-k") { Description = "Keep the K most likely bytes (0 = all).", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling threshold in (0, 1].", DefaultValueFactory = _ => 1.0 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature (> 0).", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out", "-o") { Description = "Where to write the generated bytes (without the end marker).", Required = true };
        var cmd = new Command("generate", "Generate a new file of a type, or convert a file into another type.") { weights, ext, input, patches, topK, topP, temperature, seed, output };
        cmd.SetAction(r =>
        {
            var path = r.GetValue(weights)!;
            using var model = BGptModels.LoadLanguageModel(path);
            var c = model.Config;
            var target = ByteEncoder.ExtensionBytes(r.GetValue(ext)!, c.PatchSize).Select(b => (int)b)
                .Concat(Enumerable.Repeat(BGptConfig.SpecialToken, c.PatchSize)).Take(c.PatchSize);
            var prefix = r.GetValue(input) is { } file
                ? ByteEncoder.EncodeFile(file, c, TruncationStrategy.Head).SkipLast(c.PatchSize).Concat(target).ToList()
                : target.ToList();
            if (prefix.Count >= c.MaxTokens)
                throw new ArgumentException($"The input fills the model's {c.PatchLength}-patch budget; nothing is left to generate.");
            var options = new SamplingOptions { TopK = r.GetValue(topK), TopP = r.GetValue(topP), Temperature = r.GetValue(temperature) };
            var bytes = new BGptGenerator(model).Generate(prefix, options, new Random(r.GetValue(seed)), r.GetValue(patches));
            var outPath = r.GetValue(output)!;
            AtomicFile.Write(outPath, s => s.Write(bytes));
            o.WriteLine($"wrote {bytes.Length} bytes to {outPath}");
            return 0;
        });
        return cmd;
    }
}
