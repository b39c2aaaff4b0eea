// What every silo holds once: the sentence encoder (loaded on first use) and the shared storage root.
using Semblance.Embeddings;

namespace Semblance.Cluster;

/// <summary>Settings of one silo process: the model every grain on it encodes with, and the shared storage path.</summary>
public sealed record SiloSettings(string Model, string Storage, int Threads = 1);

/// <summary>
/// The silo's encoder, loaded once and shared by every grain activation on the silo. Calls are serialised: the encoder
/// already uses the silo's threads, so two grains encoding at once would only contend.
/// </summary>
public sealed class SiloModel(SiloSettings settings) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private SentenceEncoder? _encoder;

    public SiloSettings Settings => settings;

    /// <summary>Where index <paramref name="name"/> keeps its shard directories on the shared storage.</summary>
    public string IndexDirectory(string name) => Path.Combine(settings.Storage, "indexes", name);

    /// <summary>Runs <paramref name="work"/> with the encoder, one caller at a time.</summary>
    public async Task<T> Use<T>(Func<SentenceEncoder, T> work)
    {
        await _gate.WaitAsync();
        try
        {
            _encoder ??= SentenceEncoder.Load(settings.Model, new EncoderOptions { Threads = settings.Threads });
            return work(_encoder);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _encoder?.Dispose();
        _gate.Dispose();
    }
}
