// BenchmarkDotNet entry point: `dotnet run -c Release --project bench/Semblance.Bench -- --filter '*'`.
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
