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

    public void Dispose() => _channel?.Dispose();
}
