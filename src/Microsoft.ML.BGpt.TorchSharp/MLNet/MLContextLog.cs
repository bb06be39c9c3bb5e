using Microsoft.ML.BGpt.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>
/// Writes training progress to <c>MLContext.Log</c>. ML.NET keeps the catalogs' environment internal, so it is read
/// once by reflection; when that is not possible, messages are simply not logged (progress still reaches IProgress).
/// </summary>
internal sealed class MLContextLog : IDisposable
{
    private readonly IChannel? _channel;

    public MLContextLog(object catalog, string name)
    {
        try
        {
            var env = catalog.GetType().GetInterfaces()
                .Select(i => i.GetProperty("Environment"))
                .FirstOrDefault(p => p?.PropertyType == typeof(IHostEnvironment))?.GetValue(catalog) as IHostEnvironment;
            _channel = env?.Start(name);
        }
        catch (Exception e) when (e is System.Reflection.TargetInvocationException or InvalidOperationException or MemberAccessException)
        {
            _channel = null;
        }
    }

    public void Info(string message) => _channel?.Info(MessageSensitivity.None, message);

    public void Warning(string message) => _channel?.Warning(MessageSensitivity.None, message);

    /// <summary>Warns when bf16 mixed precision is asked for on a CPU whose bf16 matrix products are slow (<see cref="BFloat16Speed"/>).</summary>
    public void WarnIfBFloat16IsSlow(string component, TrainingPrecision precision)
    {
        if (precision == TrainingPrecision.BFloat16Mixed && !BFloat16Speed.IsFast)
            Warning($"{component}: Precision is BFloat16Mixed, but bf16 matrix products run at {BFloat16Speed.RelativeToFloat32:0.###}x " +
                "the speed of fp32 on this CPU (no native bf16 path); Float32 trains faster here.");
    }

    public void Dispose() => _channel?.Dispose();
}
