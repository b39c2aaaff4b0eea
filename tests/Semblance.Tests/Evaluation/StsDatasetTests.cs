// Tests for the STS TSV reader: good files, duplicates, and the errors for malformed lines.
using Semblance.Evaluation;

namespace Semblance.Tests.Evaluation;

public class StsDatasetTests
{
    [Fact]
    public void Parse_ListsDistinctSentencesOnce()
    {
        var d = StsDataset.Parse(["a b\tc d\t4.5", "c d\ta b\t1", "e\ta b\t0"], "x.tsv");
        Assert.Equal(3, d.Pairs.Count);
        Assert.Equal(["a b", "c d", "e"], d.Sentences);
        Assert.Equal([0, 1, 2], d.Left);
        Assert.Equal([1, 0, 0], d.Right);
        Assert.Equal([4.5, 1, 0], d.Gold);
    }

    [Theory]
    [InlineData("a\tb\t1|a\tb", "x.tsv: line 2: 2 tab-separated columns, expected 3 (sentence1<TAB>sentence2<TAB>score)")]
    [InlineData("a\tb\tfive|a\tb\t1", "x.tsv: line 1: score 'five' is not a number; expected a numeric similarity in column 3")]
    [InlineData("a\tb\t1|a\tb\t1\textra", "x.tsv: line 2: 4 tab-separated columns, expected 3 (sentence1<TAB>sentence2<TAB>score)")]
    [InlineData("a\tb\t1||a\tb\t2", "x.tsv: line 2: empty line; expected sentence1<TAB>sentence2<TAB>score")]
    [InlineData("a\tb\t1|\tb\t2", "x.tsv: line 2: sentence1 is empty")]
    [InlineData("a\tb\tNaN|a\tb\t2", "x.tsv: line 1: score 'NaN' is not a number; expected a numeric similarity in column 3")]
    public void Parse_Errors_NameFileAndLine(string content, string message)
    {
        var e = Assert.Throws<InputFormatException>(() => StsDataset.Parse(content.Split('|'), "x.tsv"));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void EmptyFile_IsAnError()
    {
        var path = Path.GetTempFileName();
        try
        {
            var e = Assert.Throws<InputFormatException>(() => StsDataset.Load(path));
            Assert.Equal($"{path}: no sentence pairs; expected lines of sentence1<TAB>sentence2<TAB>score", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
