using System.Reflection;
using System.Runtime.Intrinsics;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// One pass over a parameter, its gradient and its two moments that does what torch 1.13's single-tensor AdamW does in
/// nine operations: the same float32 arithmetic in the same order, rounded where libtorch rounds (its vectorized
/// <c>add_</c> with alpha and <c>addcmul_</c> are fused multiply-adds, so they are here). Reading and writing each
/// element once instead of streaming the 110M model's 350 MB tensors 22 times is the point (docs/benchmarks.md).
/// Two last-bit differences remain (AdamWTests): the square root is IEEE-rounded here, while libtorch's vector sqrt
/// (MKL's) rounds some values the other way, and libtorch's scalar remainder loops split a tensor elsewhere; the
/// first moments are bit-identical, the second within one ulp, the parameters within two.
/// </summary>
internal static class FusedAdamW
{
    /// <summary>The float32 factors of one parameter's update, cast from double as libtorch casts its Scalars.</summary>
    public readonly record struct Factors(float Decay, float Keep1, float Take1, float Keep2, float Take2, float StepSize, float Correction2Sqrt, float Eps);

    /// <summary>The four tensors of one parameter, as raw float32 data.</summary>
    public readonly record struct Work(IntPtr Param, IntPtr Grad, IntPtr ExpAvg, IntPtr ExpAvgSq, long Count, Factors F);

    // TensorAccessor keeps the data pointer libtorch gives it (THSTensor_data: storage plus offset) in a private field;
    // without it (another TorchSharp), Step falls back to libtorch's operations.
    private static readonly FieldInfo? DataPointer = typeof(TensorAccessor<float>).GetField("_tensor_data_ptr", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>Whether the fused pass can run on this TorchSharp (tests check that it does).</summary>
    public static bool IsAvailable => DataPointer?.FieldType == typeof(IntPtr);

    /// <summary>The work item for <paramref name="p"/>, or null when a tensor is not a contiguous float32 CPU tensor of p's size.</summary>
    public static Work? TryPrepare(Tensor p, Tensor grad, Tensor m, Tensor v, Factors f)
    {
        if (!IsAvailable) return null;
        long n = p.numel();
        foreach (var t in new[] { p, grad, m, v })
            if (t.dtype != ScalarType.Float32 || t.device_type != TorchSharp.DeviceType.CPU || !t.is_contiguous() || t.numel() != n) return null;
        return new Work(Pointer(p), Pointer(grad), Pointer(m), Pointer(v), n, f);
    }

    private static IntPtr Pointer(Tensor t)
    {
        using var accessor = t.data<float>();
        return (IntPtr)DataPointer!.GetValue(accessor)!;
    }

    /// <summary>Updates every item, in chunks spread over as many threads as torch is given (set_num_threads).</summary>
    public static void Run(IReadOnlyList<Work> items, int threads)
    {
        var chunks = new List<(int Item, long Start, int Length)>();
        for (int i = 0; i < items.Count; i++)
            for (long s = 0; s < items[i].Count; s += ChunkSize)
                chunks.Add((i, s, (int)Math.Min(ChunkSize, items[i].Count - s)));
        Parallel.For(0, chunks.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, c =>
        {
            var (item, start, length) = chunks[c];
            Update(items[item], start, length);
        });
    }

    private const int ChunkSize = 1 << 14; // 64 KB of each of the four tensors: the chunk's working set stays in L2

    private static unsafe void Update(Work w, long start, int length)
    {
        var f = w.F;
        var p = new Span<float>((float*)w.Param + start, length);
        var g = new ReadOnlySpan<float>((float*)w.Grad + start, length);
        var m = new Span<float>((float*)w.ExpAvg + start, length);
        var v = new Span<float>((float*)w.ExpAvgSq + start, length);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var decay = Vector256.Create(f.Decay);
            var keep1 = Vector256.Create(f.Keep1);
            var take1 = Vector256.Create(f.Take1);
            var keep2 = Vector256.Create(f.Keep2);
            var take2 = Vector256.Create(f.Take2);
            var stepSize = Vector256.Create(f.StepSize);
            var correction = Vector256.Create(f.Correction2Sqrt);
            var eps = Vector256.Create(f.Eps);
            for (; i + Vector256<float>.Count <= length; i += Vector256<float>.Count)
            {
                var gi = Vector256.Create(g.Slice(i, Vector256<float>.Count));
                var pi = Vector256.Create(p.Slice(i, Vector256<float>.Count)) * decay;                                 // p.mul_(1 - lr * wd)
                var mi = Vector256.FusedMultiplyAdd(gi, take1, Vector256.Create(m.Slice(i, Vector256<float>.Count)) * keep1); // m.mul_(b1).add_(g, 1 - b1)
                var vi = Vector256.FusedMultiplyAdd(take2 * gi, gi, Vector256.Create(v.Slice(i, Vector256<float>.Count)) * keep2);         // v.mul_(b2).addcmul_(g, g, 1 - b2)
                var denom = Vector256.Sqrt(vi) / correction + eps;                                                 // v.sqrt() / sqrt(bc2) + eps
                pi += stepSize * mi / denom;                                                                       // p.addcdiv_(m, denom, -lr / bc1)
                pi.CopyTo(p.Slice(i, Vector256<float>.Count));
                mi.CopyTo(m.Slice(i, Vector256<float>.Count));
                vi.CopyTo(v.Slice(i, Vector256<float>.Count));
            }
        }
        for (; i < length; i++)
        {
            float gi = g[i];
            float pi = p[i] * f.Decay;
            float mi = MathF.FusedMultiplyAdd(gi, f.Take1, m[i] * f.Keep1);
            float vi = MathF.FusedMultiplyAdd(f.Take2 * gi, gi, v[i] * f.Keep2);
            float denom = MathF.Sqrt(vi) / f.Correction2Sqrt + f.Eps;
            p[i] = pi + f.StepSize * mi / denom;
            m[i] = mi;
            v[i] = vi;
        }
    }
}
