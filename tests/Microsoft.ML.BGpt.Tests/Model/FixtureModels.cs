using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Models built from the reference checkpoints, in eval mode.</summary>
public static class FixtureModels
{
    public static IReadOnlyDictionary<string, TensorData> StateDict(string file)
    {
        var root = PthReader.Read(ReferenceFixtures.PathOf(file));
        var dict = root is PickleDict d && d.Get("model") is PickleDict m ? m : (PickleDict)root!;
        return dict.Where(kv => kv.Value is TensorData).ToDictionary(kv => (string)kv.Key, kv => (TensorData)kv.Value!);
    }

    private static bool IgnoredBuffer(string key) => false;

    public static BGptLMHeadModel LanguageModel(string file = "lm.pth")
    {
        var model = new BGptLMHeadModel(ReferenceFixtures.Config);
        ModelWeights.Load(model, StateDict(file), file);
        model.eval();
        return model;
    }

    public static BGptClassifier Classifier(string file = "cls.pth")
    {
        var model = new BGptClassifier(ReferenceFixtures.Config, 3);
        ModelWeights.Load(model, StateDict(file), file);
        model.eval();
        return model;
    }

    public static Tensor Tokens(int[] tokens) => tensor(tokens.Select(t => (long)t).ToArray(), new long[] { 1, tokens.Length });
}
