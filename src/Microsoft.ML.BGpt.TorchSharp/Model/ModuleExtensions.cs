using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

internal static class ModuleExtensions
{
    /// <summary>
    /// Takes a module's parameters and buffers out of any ambient dispose scope, so that a model built inside
    /// a scope (a test, a per-request handler) outlives it. The model owns them until it is disposed.
    /// </summary>
    public static T OwnTensors<T>(this T module) where T : nn.Module
    {
        foreach (var p in module.parameters()) p.DetachFromDisposeScope();
        foreach (var b in module.buffers()) b.DetachFromDisposeScope();
        return module;
    }

    /// <summary>Number of elements over all parameters.</summary>
    public static long ParameterCount(this nn.Module module) => module.parameters().Sum(p => p.numel());
}
