namespace Microsoft.ML.BGpt.Cli;

using Command = System.CommandLine.Command;

public static partial class BGptCli
{
    private static partial IEnumerable<Command> TrainingCommands(TextWriter stdout) => Array.Empty<Command>();
}
