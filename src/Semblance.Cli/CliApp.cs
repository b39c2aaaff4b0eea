// Placeholder dispatcher replaced below.
namespace Semblance.Cli;
public static class CliApp
{
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr) => 0;
}
