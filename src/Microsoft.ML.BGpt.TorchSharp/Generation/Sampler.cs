namespace Microsoft.ML.BGpt.Modeling;

/// <summary>Top-k, then top-p, then temperature sampling over a probability vector, as the original's samplings.</summary>
internal static class Sampler
{
    public static int Sample(float[] probabilities, SamplingOptions options, Random random)
    {
        var p = Array.ConvertAll(probabilities, x => (double)x);
        var order = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ThenBy(i => i).ToArray();
        if (options.TopK == 1) return order[0]; // greedy: the argmax, whatever the rest does

        if (options.TopK > 0)
            for (int r = options.TopK; r < order.Length; r++) p[order[r]] = 0;
        Normalize(p);

        if (options.TopP < 1)
        {
            double cumulative = 0;
            int r = 0;
            for (; r < order.Length && cumulative < options.TopP; r++) cumulative += p[order[r]];
            for (; r < order.Length; r++) p[order[r]] = 0;
            Normalize(p);
        }

        if (options.Temperature != 1)
        {
            // p^(1/T) relative to the largest p, in logs: at low temperatures p^(1/T) alone underflows to 0 for every byte.
            double logMax = Math.Log(p.Max());
            for (int i = 0; i < p.Length; i++) p[i] = p[i] > 0 ? Math.Exp((Math.Log(p[i]) - logMax) / options.Temperature) : 0;
            Normalize(p);
        }

        double u = random.NextDouble(), sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            sum += p[i];
            if (u < sum && p[i] > 0) return i;
        }
        return order[0];
    }

    private static void Normalize(double[] p)
    {
        double total = p.Sum();
        if (total <= 0 || double.IsNaN(total)) throw new InvalidOperationException("The byte distribution has no mass left to sample from.");
        for (int i = 0; i < p.Length; i++) p[i] /= total;
    }
}
