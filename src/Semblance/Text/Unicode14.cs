// Character classes of the reference BERT tokenizer, pinned to Unicode 14.0 so ids do not move with the runtime's Unicode version.
using System.Globalization;
using System.Text;

namespace Semblance.Text;

/// <summary>
/// The reference tokenizer (transformers v4.31 under Python 3.11) asks <c>unicodedata</c> for general categories of
/// Unicode 14.0. .NET 10's <see cref="CharUnicodeInfo"/> knows Unicode 16.0: about 10,300 code points assigned since
/// then (CJK Extensions H and I, U+2B739, Kawi, Garay, new emoji, ...) are unassigned (Cn) for the reference and are
/// therefore deleted by its control-character cleanup, and U+1171E AHOM CONSONANT SIGN MEDIAL RA moved from Mn to Mc.
/// Categories therefore come from a generated Unicode 14.0 table rather than from the runtime; casing and
/// normalisation of code points assigned in 14.0 are stable across Unicode versions and come from .NET/ICU.
/// </summary>
internal static partial class Unicode14
{
    private const int CategoryBits = 5;

    private static readonly byte[] BmpCategories = BuildBmpCategories();

    private static readonly char[] BmpLower = BuildBmpLower();

    public static UnicodeCategory GetCategory(int codePoint)
    {
        if ((uint)codePoint < 0x10000) return (UnicodeCategory)BmpCategories[codePoint];
        if ((uint)codePoint > 0x10FFFF) return UnicodeCategory.OtherNotAssigned;
        return (UnicodeCategory)(CategoryRuns[FindRun(codePoint)] & ((1u << CategoryBits) - 1));
    }

    /// <summary>BERT's <c>_is_control</c>: any C* category (Cc, Cf, Cs, Co, Cn) except tab, newline and carriage return.</summary>
    public static bool IsControl(int codePoint)
    {
        if (codePoint is '\t' or '\n' or '\r') return false;
        return GetCategory(codePoint) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    /// <summary>BERT's <c>_is_whitespace</c>: space, tab, newline, carriage return and category Zs.</summary>
    public static bool IsWhitespace(int codePoint) =>
        codePoint is ' ' or '\t' or '\n' or '\r' || GetCategory(codePoint) == UnicodeCategory.SpaceSeparator;

    /// <summary>
    /// Python's <c>str.isspace()</c>, which <c>str.split()</c> splits on: bidi classes WS, B, S or category Zs.
    /// After cleanup only the space and U+2028/U+2029 (Zl, Zp: not controls, not Zs) can still occur.
    /// </summary>
    public static bool IsPythonSpace(int codePoint) => codePoint switch
    {
        >= 0x09 and <= 0x0D or >= 0x1C and <= 0x20 or 0x85 or 0xA0 or 0x1680 => true,
        >= 0x2000 and <= 0x200A or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        _ => false,
    };

    /// <summary>BERT's <c>_is_punctuation</c>: every non-alphanumeric ASCII printable character, plus category P*.</summary>
    public static bool IsPunctuation(int codePoint)
    {
        if (codePoint is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return GetCategory(codePoint) is >= UnicodeCategory.ConnectorPunctuation and <= UnicodeCategory.OtherPunctuation;
    }

    public static bool IsNonSpacingMark(int codePoint) => GetCategory(codePoint) == UnicodeCategory.NonSpacingMark;

    /// <summary>
    /// BERT's <c>_is_chinese_char</c>: the CJK Unified Ideographs blocks as the slow tokenizer lists them (its
    /// Extension E range runs to U+2CEAF) and the compatibility ideographs; not kana, hangul or full-width forms.
    /// </summary>
    public static bool IsCjkIdeograph(int codePoint) => codePoint switch
    {
        >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0xF900 and <= 0xFAFF => true,
        >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F => true,
        >= 0x2B820 and <= 0x2CEAF or >= 0x2F800 and <= 0x2FA1F => true,
        _ => false,
    };

    /// <summary>
    /// Python's <c>str.lower()</c> of one code point (full case mapping): the simple mapping except U+0130 İ, whose
    /// lowercase is two code points (i + U+0307), which <paramref name="second"/> receives (otherwise -1). Code points
    /// unassigned in 14.0 have no mapping, even where a newer Unicode gives them one (U+A7CB → U+0264 in 16.0).
    /// </summary>
    public static int ToLower(int codePoint, out int second)
    {
        second = -1;
        if ((uint)codePoint < 0x10000)
        {
            if (codePoint == 0x130)
            {
                second = 0x307;
                return 'i';
            }
            return BmpLower[codePoint];
        }
        if (GetCategory(codePoint) == UnicodeCategory.OtherNotAssigned) return codePoint;
        return Rune.ToLowerInvariant(new Rune(codePoint)).Value;
    }

    private static int FindRun(int codePoint)
    {
        var runs = CategoryRuns;
        int lo = 0, hi = runs.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if ((int)(runs[mid] >> CategoryBits) <= codePoint) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    private static byte[] BuildBmpCategories()
    {
        var table = new byte[0x10000];
        var runs = CategoryRuns;
        for (int r = 0; r < runs.Length; r++)
        {
            int start = (int)(runs[r] >> CategoryBits);
            if (start >= table.Length) break;
            int end = r + 1 < runs.Length ? Math.Min((int)(runs[r + 1] >> CategoryBits), table.Length) : table.Length;
            table.AsSpan(start, end - start).Fill((byte)(runs[r] & ((1u << CategoryBits) - 1)));
        }
        return table;
    }

    private static char[] BuildBmpLower()
    {
        var table = new char[0x10000];
        for (int c = 0; c < table.Length; c++)
        {
            bool unmapped = (c >= 0xD800 && c <= 0xDFFF) || BmpCategories[c] == (byte)UnicodeCategory.OtherNotAssigned;
            table[c] = unmapped ? (char)c : char.ToLowerInvariant((char)c);
        }
        return table;
    }
}
