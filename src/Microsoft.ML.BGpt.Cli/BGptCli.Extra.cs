using System.CommandLine;

namespace Microsoft.ML.BGpt.Cli;

public static partial class BGptCli
{
    private static partial IEnumerable<Command> ExtraCommands(TextWriter stdout) => Array.Empty<Command>();
}
