using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// AdamW as torch 1.13 computes it (<c>torch.optim.AdamW</c>, single-tensor path, what the original trains with),
/// updating each float32 parameter in one fused pass over it, its gradient and its moments (<see cref="FusedAdamW"/>),
/// or, for any other tensor, with libtorch's operations one parameter at a time.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>optim.AdamW</c> runs the same arithmetic but keeps every parameter's temporaries
/// (<c>sqrt</c>, the division, the gradient handles) alive until the end of <c>step()</c>: for the 110M model that
/// is about 2 × 350 MB allocated and freed every step, which raised the training peak past 4 GB and made some
/// steps 10–20× slower (fresh pages). The fused pass allocates nothing. <see cref="ZeroGrad"/>
/// zeroes gradients in place, as torch 1.13's default <c>zero_grad(set_to_none=False)</c>: a parameter that had a
/// gradient keeps being updated, one that never had one (the patch decoder's unused token embedding) is skipped,
/// exactly as in the original.
/// </remarks>
public sealed class BGptAdamW : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Tensor?[] _expAvg, _expAvgSq;
    private readonly long[] _steps;
    private readonly Scalar _one = 1.ToScalar();

    /// <summary>Creates the optimizer over <paramref name="parameters"/> (torch's defaults: betas 0.9 / 0.999, eps 1e-8).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative rate, epsilon or weight decay, or a beta outside [0, 1).</exception>
    public BGptAdamW(IEnumerable<Parameter> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0.01)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (learningRate < 0) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be >= 0.");
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        if (eps < 0) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be >= 0.");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "The weight decay must be >= 0.");
        _parameters = parameters.ToArray();
        _expAvg = new Tensor?[_parameters.Length];
        _expAvgSq = new Tensor?[_parameters.Length];
        _steps = new long[_parameters.Length];
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
    }

    /// <summary>The learning rate of the next <see cref="Step"/> (a schedule sets it before each step).</summary>
    public double LearningRate { get; set; }

    /// <summary>First-moment decay. Default 0.9.</summary>
    public double Beta1 { get; }

    /// <summary>Second-moment decay. Default 0.999.</summary>
    public double Beta2 { get; }

    /// <summary>Added to the denominator. Default 1e-8.</summary>
    public double Eps { get; }

    /// <summary>Decoupled weight decay (the parameter is multiplied by 1 − lr × decay). Default 0.01.</summary>
    public double WeightDecay { get; }

    /// <summary>The parameters, in the order given (the order of <c>named_parameters()</c> for the checkpoints).</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var _ = no_grad();
        double lr = LearningRate;
        var fused = new List<FusedAdamW.Work>(_parameters.Length);
        for (int i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            using var grad = p.grad;
            if (grad is null) continue;
            var m = _expAvg[i] ??= zeros_like(p).DetachFromDisposeScope();
            var v = _expAvgSq[i] ??= zeros_like(p).DetachFromDisposeScope();
            long step = ++_steps[i];
            double biasCorrection1 = 1 - Math.Pow(Beta1, step);
            double biasCorrection2 = 1 - Math.Pow(Beta2, step);
            if (UseFusedUpdate && FusedAdamW.TryPrepare(p, grad, m, v, new FusedAdamW.Factors((float)(1 - lr * WeightDecay),
                    (float)Beta1, (float)(1 - Beta1), (float)Beta2, (float)(1 - Beta2), (float)(-lr / biasCorrection1),
                    (float)Math.Sqrt(biasCorrection2), (float)Eps)) is { } work)
                fused.Add(work);
            else
                StepWithTorch(p, grad, m, v, lr, biasCorrection1, biasCorrection2);
        }
        FusedAdamW.Run(fused, get_num_threads());
    }

    /// <summary>Whether <see cref="Step"/> updates float32 CPU parameters in one fused pass (the default) rather than with libtorch's nine operations.</summary>
    internal bool UseFusedUpdate { get; set; } = true;

    // torch 1.13's single-tensor AdamW, operation by operation: for tensors the fused pass does not take.
    private void StepWithTorch(Tensor p, Tensor grad, Tensor m, Tensor v, double lr, double biasCorrection1, double biasCorrection2)
    {
        using var scope = NewDisposeScope();
        using var decay = (1 - lr * WeightDecay).ToScalar();
        using var keep1 = Beta1.ToScalar();
        using var take1 = (1 - Beta1).ToScalar();
        using var keep2 = Beta2.ToScalar();
        using var take2 = (1 - Beta2).ToScalar();
        using var eps = Eps.ToScalar();
        using var stepSize = (-lr / biasCorrection1).ToScalar();
        using var correction2Sqrt = Math.Sqrt(biasCorrection2).ToScalar();
        p.mul_(decay);
        m.mul_(keep1).add_(grad, take1);
        v.mul_(keep2).addcmul_(grad, grad, take2);
        var denom = v.sqrt().div_(correction2Sqrt).add_(eps, _one);
        p.addcdiv_(m, denom, stepSize);
    }

    /// <summary>Zeroes every existing gradient in place (torch 1.13's <c>zero_grad()</c>); parameters without one keep none.</summary>
    public void ZeroGrad()
    {
        using var _ = no_grad();
        foreach (var p in _parameters)
        {
            using var scope = NewDisposeScope();
            p.grad?.zero_();
        }
    }

    /// <summary>The state of parameter <paramref name="index"/>: steps taken and the two moments (null before its first step).</summary>
    public (long Step, Tensor ExpAvg, Tensor ExpAvgSq)? StateOf(int index) =>
        _expAvg[index] is { } m ? (_steps[index], m, _expAvgSq[index]!) : null;

    /// <summary>Sets the state of parameter <paramref name="index"/> (resuming): the step count and copies of the moments.</summary>
    public void SetState(int index, long step, Tensor expAvg, Tensor expAvgSq)
    {
        using var _ = no_grad();
        var p = _parameters[index];
        if (!expAvg.shape.SequenceEqual(p.shape) || !expAvgSq.shape.SequenceEqual(p.shape))
            throw new ArgumentException($"The moments of parameter {index} have shape [{string.Join(", ", expAvg.shape)}], not the parameter's [{string.Join(", ", p.shape)}].");
        _expAvg[index] ??= zeros_like(p).DetachFromDisposeScope();
        _expAvgSq[index] ??= zeros_like(p).DetachFromDisposeScope();
        _expAvg[index]!.copy_(expAvg);
        _expAvgSq[index]!.copy_(expAvgSq);
        _steps[index] = step;
    }

    /// <summary>Frees the moments.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _parameters.Length; i++)
        {
            _expAvg[i]?.Dispose();
            _expAvgSq[i]?.Dispose();
            _expAvg[i] = _expAvgSq[i] = null;
        }
        _one.Dispose();
    }
}
