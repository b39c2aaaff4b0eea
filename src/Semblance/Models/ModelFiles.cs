// Reading the small JSON files of a model directory with one-line errors that name the file.
namespace Semblance.Models;

internal static class ModelFiles
{
    /// <summary>The file's text; a missing file is an error that says what was expected there.</summary>
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
