using System.CommandLine;

namespace Microsoft.ML.BGpt.Cli;

using Command = System.CommandLine.Command;

public static partial class BGptCli
{
    private static partial IEnumerable<Command> ExtraCommands(TextWriter stdout) => Array.Empty<Command>();
}
