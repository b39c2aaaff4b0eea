// jieba word segmentation (precise mode, HMM off) over jieba.NET's dictionary, for RoFormerTokenizer checkpoints.
using System.Text.RegularExpressions;
using JiebaNet.Segmenter;
using Semblance.Text;

namespace Semblance.Jieba;

/// <summary>
/// jieba's precise mode without the HMM for unknown words: what Hugging Face's RoFormerTokenizer (rjieba,
/// <c>hmm=False</c>) and the original RoFormer code (<c>jieba.cut(text, HMM=False)</c>) use. The dictionary is
/// jieba.NET 0.42.2's, which is Python jieba 0.42.1's (the same 349,046 entries; its copy has CRLF line ends), read
/// from <c>Resources/</c> beside the application, offline. The segmentation itself is done here, not by
/// <c>JiebaSegmenter.Cut</c>: when two paths through the word graph have exactly the same log-probability, Python jieba
/// keeps the one whose first word is longer (it takes the max of (score, end) pairs) and jieba.NET the other, which
/// changed 1 of 18,289 sentences of ../shared (小小小王: 小小/小 in Python, 小/小小 in jieba.NET). Agreement with Python
/// jieba: <c>tools/jieba_reference.py</c> and <c>RoFormerTokenizerTests</c>.
/// </summary>
public sealed class JiebaWordSegmenter : IWordSegmenter
{
    // Python jieba's re_han_default, re_skip_default and re_eng (Unicode-aware \s, as with re.U).
    private static readonly Regex HanBlock = new(@"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)", RegexOptions.CultureInvariant);
    private static readonly Regex Skip = new(@"(\r\n|\s)", RegexOptions.CultureInvariant);

    /// <summary>jieba.NET's dictionary and its longest word (jieba.NET stores no prefixes, so candidates stop there).</summary>
    private static readonly Lazy<(WordDictionary Words, int MaxWord)> Dictionary = new(LoadDictionary);

    public string Name => "jieba (dictionary of jieba.NET 0.42.2 = jieba 0.42.1; precise mode, HMM off)";

    public IEnumerable<string> Segment(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = new List<string>();
        foreach (var block in HanBlock.Split(text))
        {
            if (block.Length == 0) continue;
            if (HanBlock.Match(block) is { Success: true, Index: 0 })
            {
                CutBlock(block, words);
                continue;
            }
            foreach (var piece in Skip.Split(block))
            {
                if (piece.Length == 0) continue;
                if (Skip.Match(piece) is { Success: true, Index: 0 }) words.Add(piece);
                else foreach (var c in piece.EnumerateRunes()) words.Add(c.ToString());
            }
        }
        return words;
    }

    /// <summary>Makes this segmenter the one RoFormerTokenizer checkpoints load with (<see cref="WordSegmenters.Jieba"/>).</summary>
    public static void Register() => WordSegmenters.Jieba ??= new JiebaWordSegmenter();

    /// <summary>
    /// One block of CJK/ASCII-word characters: the word graph (every dictionary word with a frequency starting at each
    /// position, or the single character), the best path by summed log frequency from the end (ties to the longer
    /// first word), then the path's words with runs of single ASCII letters/digits joined.
    /// </summary>
    private static void CutBlock(string block, List<string> words)
    {
        var (dictionary, maxWord) = Dictionary.Value;
        int n = block.Length;
        double logTotal = Math.Log(dictionary.Total);
        var score = new double[n + 1];
        var end = new int[n + 1];
        for (int i = n - 1; i >= 0; i--)
        {
            double best = double.NegativeInfinity;
            int bestEnd = i;
            bool any = false;
            for (int j = i; j < n && j - i < maxWord; j++)
            {
                string candidate = block.Substring(i, j - i + 1);
                if (!dictionary.ContainsWord(candidate)) continue;
                int freq = dictionary.GetFreqOrDefault(candidate);
                if (freq <= 0) continue;
                any = true;
                Consider(freq, j);
            }
            if (!any) Consider(dictionary.GetFreqOrDefault(block.Substring(i, 1)), i);
            score[i] = best;
            end[i] = bestEnd;

            void Consider(int freq, int j)
            {
                double s = Math.Log(freq > 0 ? freq : 1) - logTotal + score[j + 1];
                if (s > best || (s == best && j > bestEnd))
                {
                    best = s;
                    bestEnd = j;
                }
            }
        }
        string buffer = "";
        for (int i = 0; i < n;)
        {
            int next = end[i] + 1;
            string word = block[i..next];
            if (word.Length == 1 && char.IsAsciiLetterOrDigit(word[0]))
            {
                buffer += word;
            }
            else
            {
                if (buffer.Length > 0) words.Add(buffer);
                buffer = "";
                words.Add(word);
            }
            i = next;
        }
        if (buffer.Length > 0) words.Add(buffer);
    }

    private static (WordDictionary, int) LoadDictionary()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Resources", "dict.txt");
        if (!File.Exists(path))
            throw new SemblanceException($"{path}: jieba's dictionary is missing; it is copied beside the application by the Semblance.Jieba project (from the jieba.NET package's Resources folder)");
        int maxWord = File.ReadLines(path).Max(line => line.IndexOf(' ') is int space and >= 0 ? space : line.Length);
        return (WordDictionary.Instance, maxWord);
    }
}
