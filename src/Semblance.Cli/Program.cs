// Entry point of the `semblance` command.
return Semblance.Cli.CliApp.Run(args, Console.In, Console.Out, Console.Error);
