// Reading the small JSON files of a model directory with one-line errors that name the file.
namespace Semblance.Models;

internal static class ModelFiles
{
    /// <summary>The file's text; a missing file is an error that says what was expected there.</summary>
    /// <summary>A JSON file of a model directory, parsed strictly (<see cref="IO.StrictJson"/>); missing is an error saying what was expected.</summary>
    public static System.Text.Json.JsonDocument ReadJson(string path, string expected)
    {
        if (Directory.Exists(path) || !File.Exists(path)) throw new ModelFormatException($"{path}: file not found; {expected}");
        return IO.StrictJson.ReadFile(path, static m => new ModelFormatException(m), IO.StrictJson.Lenient);
    }

    public static string ReadText(string path, string expected)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModelFormatException($"{path}: file not found; {expected}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{path}: cannot read ({e.Message})", e);
        }
    }
}
