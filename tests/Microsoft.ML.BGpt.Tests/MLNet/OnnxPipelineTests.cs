using FluentAssertions;
using Microsoft.ML.BGpt.MLNet;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Session settings of the ONNX Runtime pipelines the estimators fit.</summary>
public sealed class OnnxPipelineTests
{
    [Fact]
    public void Sessions_use_every_core_unless_the_options_say_otherwise()
    {
        // ONNX Runtime's own default (physical cores through cpuinfo) chose 1 thread on a 2-core VM: half the speed.
        OnnxPipeline.IntraOpThreads(null).Should().Be(Environment.ProcessorCount);
        OnnxPipeline.IntraOpThreads(3).Should().Be(3);
    }
}
