// The server counts tokens with whatever tokenizer the backend reads text with, so every model kind gets its 413.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Server;
using Semblance.Tests.Models;
using Semblance.Training;

namespace Semblance.Tests.Server;

public class TokenCounterTests
{
    [Fact]
    public void AGruModelCountsTokensAndRefusesOverLongInput()
    {
        using var dir = new TempDir();
        string[] words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d"];
        TrainableGru.Initialize(new GruConfig { VocabSize = words.Length, EmbeddingSize = 8, HiddenSize = 8, MaxLength = 6 }, seed: 3).Save(dir.Path);
        File.WriteAllLines(Path.Combine(dir.Path, "vocab.txt"), words);
        using var encoder = SentenceEncoder.Load(dir.Path, new EncoderOptions { Threads = 1 });
        var counter = new TokenCounter(encoder.Backend);
        Assert.True(counter.CanCount);
        Assert.Equal([4, 6], counter.Count(["a b", "a b c d a b c"], refuseTooLong: false, "input")!);
        var e = Assert.Throws<ApiException>(() => counter.Count(["a b c d a b c"], refuseTooLong: true, "input"));
        Assert.Equal(413, e.Status);
    }
}
