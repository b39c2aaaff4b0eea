// Encoder workers: no state of their own, placed on the silo with the fewest activations.
using Orleans;
using Orleans.Placement;
using Orleans.Runtime;

namespace Semblance.Cluster;

[ActivationCountBasedPlacement]
public sealed class EncoderWorkerGrain(SiloModel model, ILocalSiloDetails silo) : Grain, IEncoderWorker
{
    public async Task<ChunkResult> EncodeChunk(ChunkSpec chunk)
    {
        var lines = ChunkFile.ReadLines(chunk);
        var (vectors, dimension) = await model.Use(e => (e.EncodeFlat(lines), e.Dimension));
        Directory.CreateDirectory(chunk.ChunkDirectory);
        ChunkFile.Write(ChunkFile.PathOf(chunk.ChunkDirectory, chunk.Index), chunk.FirstLine, lines, vectors, dimension);
        return new ChunkResult(chunk.Index, lines.Length, dimension, silo.SiloAddress.ToString());
    }

    public Task<float[]> Encode(string[] texts) => model.Use(e =>
    {
        var rows = new float[(long)texts.Length * e.Dimension];
        e.EncodeInto(texts, rows, normalize: false);
        return rows;
    });
}
