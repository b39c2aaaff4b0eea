// Word segmentation before WordPiece, as Hugging Face's RoFormerTokenizer does with jieba for the Chinese RoFormer models.
namespace Semblance.Text;

/// <summary>
/// Splits a text into words before WordPiece (<see cref="BertTokenizerOptions.WordSegmenter"/>). The words must
/// concatenate back to the input; the tokenizer keeps a word whole when it is a vocabulary token and otherwise runs
/// the usual BERT pipeline (BasicTokenizer + WordPiece) on it.
/// </summary>
public interface IWordSegmenter
{
    /// <summary>Names the segmenter and its settings for messages and <c>info</c> (e.g. "jieba.NET 0.42.2, HMM off").</summary>
    string Name { get; }

    IEnumerable<string> Segment(string text);
}

/// <summary>
/// The segmenters that tokenizer files can ask for by name. The library ships none (jieba needs a 5 MB dictionary
/// and a package with its own dependencies); the optional assembly <c>Semblance.Jieba</c> registers one with
/// <c>JiebaWordSegmenter.Register()</c>, and the <c>semblance</c> command does so at start-up.
/// </summary>
public static class WordSegmenters
{
    private static volatile IWordSegmenter? _jieba;

    /// <summary>The jieba segmenter (HMM off) that <c>RoFormerTokenizer</c> checkpoints need, or null when none is registered.</summary>
    public static IWordSegmenter? Jieba
    {
        get => _jieba;
        set => _jieba = value;
    }
}
