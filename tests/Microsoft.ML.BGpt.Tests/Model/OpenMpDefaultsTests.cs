using FluentAssertions;
using Microsoft.ML.BGpt.Modeling;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

public class OpenMpDefaultsTests
{
    [Fact]
    public void Loading_the_model_assembly_makes_libtorchs_OpenMP_threads_wait_passively_unless_the_user_chose()
    {
        OpenMpDefaults.Apply(); // idempotent; the module initializer already ran
        var fromOutside = Environment.GetEnvironmentVariable(OpenMpDefaults.Variable);
        if (OperatingSystem.IsLinux())
            OpenMpDefaults.Current().Should().Be(fromOutside ?? "PASSIVE");
    }
}
