using System.Text;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests.Training;

/// <summary>Tiny models and toy data sets that train in a second or two.</summary>
internal static class ToyData
{
    public static readonly BGptConfig Tiny = BGptConfig.Create(patchSize: 4, patchLength: 16, hiddenSize: 32, patchNumLayers: 1, byteNumLayers: 1);

    private static readonly byte[] Txt = Encoding.ASCII.GetBytes("txt");

    /// <summary>
    /// Two classes: files of mostly 'a' (label 0) or mostly 'b' (label 1), 5 to 90 bytes (some longer than the
    /// 56-byte budget, so crops happen), with 20% random noise bytes.
    /// </summary>
    public static List<ByteExample> Separable(int count, int seed)
    {
        var random = new Random(seed);
        var result = new List<ByteExample>();
        for (int i = 0; i < count; i++)
        {
            int label = i % 2;
            var content = new byte[random.Next(5, 90)];
            for (int j = 0; j < content.Length; j++)
                content[j] = random.NextDouble() < 0.2 ? (byte)random.Next(256) : (byte)(label == 0 ? 'a' : 'b');
            result.Add(new ByteExample(content, Txt, label));
        }
        return result;
    }

    /// <summary>Files repeating a short phrase from a random offset: easy to predict byte by byte.</summary>
    public static List<ByteExample> Repetitive(int count, int seed)
    {
        var random = new Random(seed);
        var phrase = Encoding.ASCII.GetBytes("abcdefg ");
        return Enumerable.Range(0, count).Select(_ =>
        {
            int offset = random.Next(phrase.Length);
            var content = Enumerable.Range(0, random.Next(20, 70)).Select(j => phrase[(offset + j) % phrase.Length]).ToArray();
            return new ByteExample(content, Txt);
        }).ToList();
    }

    /// <summary>A random tiny classifier drawn from <paramref name="seed"/>.</summary>
    public static BGptClassifier Classifier(int seed = 1, int labels = 2)
    {
        manual_seed(seed);
        return new BGptClassifier(Tiny, labels);
    }

    public static ClassifierTrainingOptions FastOptions(int epochs = 3) => new()
    {
        Epochs = epochs, BatchSize = 4, LearningRate = 2e-3, Threads = 1, EarlyStoppingPatience = 0,
    };

    public static float[] Flatten(IReadOnlyDictionary<string, TensorData> weights) =>
        weights.OrderBy(kv => kv.Key, StringComparer.Ordinal).SelectMany(kv => kv.Value.ToFloatArray()).ToArray();

    public static float[] Weights(nn.Module model) => Flatten(ModelWeights.Export(model));

    /// <summary>An IProgress that reports synchronously on the training thread (Progress&lt;T&gt; would post elsewhere).</summary>
    public sealed class SyncProgress(Action<TrainingProgress> onReport) : IProgress<TrainingProgress>
    {
        public List<TrainingProgress> Reports { get; } = [];

        public void Report(TrainingProgress value)
        {
            Reports.Add(value);
            onReport(value);
        }
    }

    public static SyncProgress Recorder() => new(_ => { });

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "bgpt-training-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
