// Entry point of the `semblance` command: buffered UTF-8 stdout, strict UTF-8 stdin.
using System.Text;
using Semblance.Cli;

var utf8 = new UTF8Encoding(false);
var stdout = new StreamWriter(Console.OpenStandardOutput(), utf8, 1 << 16) { NewLine = "\n", AutoFlush = false };
var stderr = new StreamWriter(Console.OpenStandardError(), utf8) { NewLine = "\n", AutoFlush = true };
int code = CliApp.Run(args, TextReader.Null, stdout, stderr, Console.OpenStandardInput());
try
{
    stdout.Flush();
}
catch (IOException)
{
    // The reader went away (e.g. `| head`); nothing more can be delivered.
    code = code == 0 ? CliApp.ExitUserError : code;
}
return code;
