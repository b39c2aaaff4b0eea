// semblance-fuzz TARGET|all [--seconds N] [--runs N] [--seed S] [--crashes DIR] [--hang-seconds N]
//               | --list | --replay TARGET FILE... | --write-seeds DIR
using System.Diagnostics;
using System.Globalization;
using Semblance.Fuzz;

return FuzzProgram.Run(args);

internal static class FuzzProgram
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: semblance-fuzz TARGET|all [--seconds N] [--runs N] [--seed S] [--crashes DIR] [--hang-seconds N]");
            Console.WriteLine("       semblance-fuzz --list | --replay TARGET FILE... | --write-seeds DIR");
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] == "--list")
        {
            foreach (var t in FuzzTarget.All) Console.WriteLine($"{t.Name,-16} {t.Description}");
            return 0;
        }
        if (args[0] == "--write-seeds") return WriteSeeds(args.Length > 1 ? args[1] : "corpus");
        if (args[0] == "--replay") return Replay(args);

        double seconds = 0;
        long runs = 0;
        int seed = 1;
        double hang = 10;
        string? crashes = "fuzz-crashes";
        for (int i = 1; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--seconds": seconds = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--runs": runs = long.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--crashes": crashes = Value(); break;
                case "--hang-seconds": hang = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"error: unknown option {args[i]}"); return 2;
            }
        }
        if (seconds <= 0 && runs <= 0) seconds = 10;
        var targets = args[0] == "all" ? FuzzTarget.All : FuzzTarget.Find(args[0]) is { } one ? [one] : null;
        if (targets is null)
        {
            Console.Error.WriteLine($"error: no target '{args[0]}'; targets: {string.Join(", ", FuzzTarget.All.Select(t => t.Name))}");
            return 2;
        }
        int status = 0;
        foreach (var target in targets)
        {
            var runner = new FuzzRunner
            {
                Duration = TimeSpan.FromSeconds(seconds),
                MaxExecutions = runs,
                Seed = seed,
                CrashDirectory = crashes,
            };
            using var watchdog = Watch(runner, target, hang);
            var result = runner.Run(target);
            Console.WriteLine(result);
            if (result.Crash is not null)
            {
                Console.WriteLine($"  crash: {result.Crash.GetType().FullName}: {result.Crash.Message}");
                Console.WriteLine($"  input: {result.CrashFile ?? "(not saved)"} ({result.CrashInput!.Length} bytes)");
                Console.WriteLine("  " + string.Join("\n  ", (result.Crash.StackTrace ?? "").Split('\n').Take(12)));
                status = 1;
            }
        }
        return status;
    }

    /// <summary>A hang (one execution longer than <paramref name="seconds"/>) saves the input and ends the process.</summary>
    private static Timer Watch(FuzzRunner runner, FuzzTarget target, double seconds) => new(_ =>
    {
        long start = runner.CurrentStart;
        if (start == 0 || Stopwatch.GetElapsedTime(start).TotalSeconds < seconds) return;
        var input = runner.CurrentInput ?? [];
        var file = runner.SaveCrash(target.Name + "-hang", input);
        Console.WriteLine($"{target.Name}: HANG (one execution over {seconds} s); input: {file ?? "(not saved)"}");
        Console.Out.Flush();
        Environment.Exit(3);
    }, null, 1000, 1000);

    private static int Replay(string[] args)
    {
        if (args.Length < 3 || FuzzTarget.Find(args[1]) is not { } target)
        {
            Console.Error.WriteLine("usage: semblance-fuzz --replay TARGET FILE...");
            return 2;
        }
        int status = 0;
        foreach (var file in args[2..])
        {
            var e = FuzzRunner.Replay(target, File.ReadAllBytes(file), out string? refusal);
            Console.WriteLine(e is not null ? $"{file}: CRASH {e.GetType().FullName}: {e.Message}"
                : refusal is not null ? $"{file}: refused: {refusal}" : $"{file}: ok");
            if (e is not null) status = 1;
        }
        return status;
    }

    private static int WriteSeeds(string root)
    {
        foreach (var t in FuzzTarget.All)
        {
            var dir = Path.Combine(root, t.Name);
            Directory.CreateDirectory(dir);
            int i = 0;
            foreach (var s in t.Seeds()) File.WriteAllBytes(Path.Combine(dir, $"seed-{i++:D2}.bin"), s);
            Console.WriteLine($"{t.Name}: {i} seeds -> {dir}");
        }
        return 0;
    }
}
