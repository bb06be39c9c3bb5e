namespace Microsoft.ML.BGpt.Modeling;

/// <summary>How the next byte is drawn from the byte-level decoder's distribution (the original's samplings).</summary>
public sealed record SamplingOptions
{
    /// <summary>Keep only the K most likely symbols (0 keeps all). Default 0. With 1, generation is greedy.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely symbols whose probability reaches P (1 keeps all). Default 1.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Draw from p^(1/T), renormalised: below 1 sharper, above 1 flatter. Default 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Greedy decoding: always the most likely symbol.</summary>
    public static SamplingOptions Greedy { get; } = new() { TopK = 1 };

    internal SamplingOptions Validate()
    {
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be 0 (off) or positive.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1].");
        if (!(Temperature > 0)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be positive.");
        return this;
    }
}
