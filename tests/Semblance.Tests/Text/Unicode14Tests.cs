// Checks the pinned Unicode 14.0 tables against the runtime's newer Unicode data and the fast paths built on them.
using System.Globalization;
using System.Text;
using Semblance.Text;

namespace Semblance.Tests.Text;

public sealed class Unicode14Tests
{
    [Fact]
    public void TheTableDiffersFromTheRuntimeOnlyWhereUnicodeAssignedOrRecategorisedLater()
    {
        int assignedLater = 0;
        for (int cp = 0; cp <= 0x10FFFF; cp++)
        {
            var pinned = Unicode14.GetCategory(cp);
            var runtime = CharUnicodeInfo.GetUnicodeCategory(cp);
            if (pinned == runtime) continue;
            if (pinned == UnicodeCategory.OtherNotAssigned)
            {
                assignedLater++;
                continue;
            }
            // The one change of an already assigned character between 14.0 and 16.0.
            Assert.True(cp == 0x1171E, $"U+{cp:X4}: Unicode 14.0 table says {pinned}, runtime says {runtime}");
        }
        Assert.Equal(UnicodeCategory.NonSpacingMark, Unicode14.GetCategory(0x1171E));
        Assert.True(assignedLater > 0, "the runtime knows no code points newer than Unicode 14.0");
    }

    [Theory]
    [InlineData(0x41, UnicodeCategory.UppercaseLetter)]
    [InlineData(0x4E00, UnicodeCategory.OtherLetter)]
    [InlineData(0x2028, UnicodeCategory.LineSeparator)]
    [InlineData(0x200B, UnicodeCategory.Format)]
    [InlineData(0xFDD0, UnicodeCategory.OtherNotAssigned)]
    [InlineData(0x2B739, UnicodeCategory.OtherNotAssigned)]
    [InlineData(0x31350, UnicodeCategory.OtherNotAssigned)]
    [InlineData(0x1F600, UnicodeCategory.OtherSymbol)]
    [InlineData(0x10FFFD, UnicodeCategory.PrivateUse)]
    [InlineData(0x10FFFF, UnicodeCategory.OtherNotAssigned)]
    public void KnownCategories(int codePoint, UnicodeCategory expected) =>
        Assert.Equal(expected, Unicode14.GetCategory(codePoint));

    [Fact]
    public void LowercaseFollowsPythonIncludingDottedCapitalI()
    {
        Assert.Equal('a', Unicode14.ToLower('A', out int none));
        Assert.Equal(-1, none);
        Assert.Equal('i', Unicode14.ToLower(0x130, out int mark));
        Assert.Equal(0x307, mark);
        Assert.Equal(0x3C3, Unicode14.ToLower(0x3A3, out _));
        Assert.Equal(0x10428, Unicode14.ToLower(0x10400, out _));
        Assert.Equal(0xA7CB, Unicode14.ToLower(0xA7CB, out _));
        Assert.Equal(0x1E922, Unicode14.ToLower(0x1E900, out _));
    }

    [Fact]
    public void LowercaseIsIdempotentSoTheReferencesSecondLowercasingCanBeSkipped()
    {
        var failures = new List<string>();
        for (int cp = 0; cp <= 0x10FFFF; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) continue;
            int lower = Unicode14.ToLower(cp, out int second);
            if (lower == cp && second < 0) continue;
            if (Unicode14.ToLower(lower, out int again) != lower || again >= 0
                || (second >= 0 && Unicode14.ToLower(second, out _) != second))
                failures.Add($"U+{cp:X4}");
        }
        Assert.Empty(failures);
    }

    [Fact]
    public void TheNfdFastPathOnlyCoversCharactersThatStripAccentsLeavesAlone()
    {
        for (int c = 0; c <= 0xFFFF; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF) continue;
            var text = ((char)c).ToString();
            if (!BasicTokenizer.IsNfdStableWithoutMarks(text)) continue;
            Assert.Equal(text, text.Normalize(NormalizationForm.FormD));
            Assert.NotEqual(UnicodeCategory.NonSpacingMark, Unicode14.GetCategory(c));
        }
        Assert.False(BasicTokenizer.IsNfdStableWithoutMarks("é"));
        Assert.False(BasicTokenizer.IsNfdStableWithoutMarks("\u302A"));
    }

    [Fact]
    public void CjkRangesFollowTheSlowTokenizerIncludingItsExtensionEBound()
    {
        Assert.True(Unicode14.IsCjkIdeograph(0x2B820));
        Assert.True(Unicode14.IsCjkIdeograph(0x2CEAF));
        Assert.False(Unicode14.IsCjkIdeograph(0x2CEB0));
        Assert.True(Unicode14.IsCjkIdeograph(0xF900));
        Assert.False(Unicode14.IsCjkIdeograph(0x3042));
        Assert.False(Unicode14.IsCjkIdeograph(0xFF21));
    }

    [Fact]
    public void PunctuationIsAsciiSymbolsPlusCategoryP()
    {
        Assert.True(Unicode14.IsPunctuation('$'));
        Assert.True(Unicode14.IsPunctuation('`'));
        Assert.True(Unicode14.IsPunctuation(0x3002));
        Assert.False(Unicode14.IsPunctuation(0x20AC));
        Assert.False(Unicode14.IsPunctuation(0xA9));
    }
}
