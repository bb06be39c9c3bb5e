using Microsoft.ML.BGpt.Training;

/// <summary>Prints one line per epoch and a final line, so the console shows what training is doing.</summary>
internal sealed class ConsoleProgress(string phase) : IProgress<TrainingProgress>
{
    private int _epoch;

    public void Report(TrainingProgress p)
    {
        bool last = p.Step == p.TotalSteps;
        if (p.Epoch == _epoch && !last && p.Step % 10 != 0) return;
        _epoch = p.Epoch;
        var accuracy = p.ValidationAccuracy is { } a ? $", validation accuracy {a:P1}" : "";
        Console.WriteLine($"  {phase} epoch {p.Epoch} step {p.Step}/{p.TotalSteps}: loss {p.Loss:F3}{accuracy}, {p.BytesPerSecond / 1024:F1} KB/s, ETA {p.Eta:mm\\:ss}");
    }
}
