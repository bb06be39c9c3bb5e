using Xunit;

namespace Microsoft.ML.BGpt.Tests.Training;

/// <summary>
/// Training seeds torch's process-wide generator (dropout has no per-call generator) and sets its thread count, so
/// these tests run alone: a model built concurrently by another test would shift the dropout masks.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchGlobalState
{
    public const string Name = "Torch global state";
}
