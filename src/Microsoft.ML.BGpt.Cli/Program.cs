using Microsoft.ML.BGpt.Cli;

return BGptCli.Run(args, Console.Out, Console.Error);
