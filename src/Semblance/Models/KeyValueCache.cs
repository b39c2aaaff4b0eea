// The keys and values every layer computed for the rows already seen, so a decoder step runs only its new rows.
namespace Semblance.Models;

/// <summary>
/// Per layer, the key and value rows [slots, capacity, hidden] of sequences being decoded (RoFormer's keys stored
/// rotated, as attention reads them), with each slot's length and the cumulative token types of its rows, which decide
/// visibility under the UniLM rule (<see cref="Seq2SeqMask"/>). A forward through <see cref="TransformerModel.ForwardCached"/>
/// appends its rows to the slots it names. Because rows already cached never attend to later ones (each appended chunk
/// starts with a type-1 token), the cached rows are exactly what a full forward over the whole sequence computes.
/// </summary>
public sealed class KeyValueCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;
    private readonly int[] _lengths;
    private readonly int[] _cumulativeTypes;
    private float[] _scratch = [];
    private int[] _pendingSlots = [];
    private int[] _pendingRows = [];

    internal KeyValueCache(int layers, int slots, int capacity, int width)
    {
        if (slots < 1 || capacity < 1) throw new ArgumentOutOfRangeException(nameof(slots), $"a cache needs at least one slot and one row (got {slots} x {capacity})");
        long size = (long)slots * capacity * width;
        if (size > Array.MaxLength) throw new SemblanceException($"a key/value cache of {slots} sequences x {capacity} positions x {width} is too large; decode fewer sequences at once");
        Layers = layers;
        Slots = slots;
        Capacity = capacity;
        Width = width;
        _keys = new float[layers][];
        _values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = new float[size];
            _values[l] = new float[size];
        }
        _lengths = new int[slots];
        _cumulativeTypes = new int[slots * capacity];
    }

    public int Layers { get; }

    public int Slots { get; }

    /// <summary>Rows each slot can hold (at most the model's positions).</summary>
    public int Capacity { get; }

    internal int Width { get; }

    /// <summary>Rows cached in <paramref name="slot"/>; the next row appended there has this position.</summary>
    public int Length(int slot) => _lengths[slot];

    internal float[] Keys(int layer) => _keys[layer];

    internal float[] Values(int layer) => _values[layer];

    /// <summary>Row offset of <paramref name="slot"/>'s first row in <see cref="Keys"/>/<see cref="Values"/>.</summary>
    internal int SlotStart(int slot) => slot * Capacity;

    /// <summary>Empties <paramref name="slot"/>.</summary>
    public void Clear(int slot) => _lengths[slot] = 0;

    /// <summary>
    /// Slot t takes the state slot <paramref name="parents"/>[t] had (t &lt; parents.Length; a parent may be named by
    /// several slots): how a beam search keeps its survivors and how one encoded source is handed to n samples.
    /// </summary>
    public void Reorder(ReadOnlySpan<int> parents)
    {
        if (parents.Length > Slots) throw new ArgumentException($"{parents.Length} parents for {Slots} slots", nameof(parents));
        int rows = 0;
        for (int t = 0; t < parents.Length; t++)
        {
            if ((uint)parents[t] >= (uint)Slots) throw new ArgumentOutOfRangeException(nameof(parents), parents[t], $"slots run from 0 to {Slots - 1}");
            if (parents[t] != t) rows += _lengths[parents[t]];
        }
        if (rows == 0) return;
        if (_scratch.Length < (long)rows * Width) _scratch = new float[rows * Width];
        var cumulative = new int[rows];
        var lengths = (int[])_lengths.Clone();
        foreach (var tensors in new[] { _keys, _values })
        {
            foreach (var data in tensors)
            {
                int at = 0;
                for (int t = 0; t < parents.Length; t++)
                {
                    if (parents[t] == t) continue;
                    int n = lengths[parents[t]] * Width;
                    data.AsSpan(SlotStart(parents[t]) * Width, n).CopyTo(_scratch.AsSpan(at));
                    at += n;
                }
                at = 0;
                for (int t = 0; t < parents.Length; t++)
                {
                    if (parents[t] == t) continue;
                    int n = lengths[parents[t]] * Width;
                    _scratch.AsSpan(at, n).CopyTo(data.AsSpan(SlotStart(t) * Width));
                    at += n;
                }
            }
        }
        int r = 0;
        for (int t = 0; t < parents.Length; t++)
        {
            if (parents[t] == t) continue;
            _cumulativeTypes.AsSpan(SlotStart(parents[t]), lengths[parents[t]]).CopyTo(cumulative.AsSpan(r));
            r += lengths[parents[t]];
        }
        r = 0;
        for (int t = 0; t < parents.Length; t++)
        {
            if (parents[t] == t) continue;
            cumulative.AsSpan(r, lengths[parents[t]]).CopyTo(_cumulativeTypes.AsSpan(SlotStart(t)));
            _lengths[t] = lengths[parents[t]];
            r += lengths[parents[t]];
        }
    }

    /// <summary>
    /// Checks that <paramref name="batch"/>'s sequence b can be appended to slot <paramref name="slots"/>[b] and records
    /// the cumulative types of the new rows; the lengths grow at <see cref="Commit"/>.
    /// </summary>
    internal void Stage(TokenBatch batch, int[] slots)
    {
        if (slots.Length != batch.BatchSize) throw new ArgumentException($"{slots.Length} slots for a batch of {batch.BatchSize} sequences", nameof(slots));
        var seen = new HashSet<int>();
        for (int b = 0; b < slots.Length; b++)
        {
            int slot = slots[b];
            if ((uint)slot >= (uint)Slots) throw new ArgumentOutOfRangeException(nameof(slots), slot, $"slots run from 0 to {Slots - 1}");
            if (!seen.Add(slot)) throw new ArgumentException($"slot {slot} appears twice in one forward", nameof(slots));
            int start = batch.Offsets[b], m = batch.Length(b), length = _lengths[slot];
            if (length + m > Capacity)
                throw new SemblanceException($"sequence {b} would reach {length + m} positions, more than the {Capacity} the key/value cache (and the model) hold");
            if (length > 0 && m > 0 && batch.TypeIds[start] != 1)
                throw new ArgumentException($"sequence {b}: rows appended to a cached sequence must start with a type-1 token, or the cached rows would have had to see them", nameof(batch));
            int c = length > 0 ? _cumulativeTypes[SlotStart(slot) + length - 1] : 0;
            for (int p = 0; p < m; p++) _cumulativeTypes[SlotStart(slot) + length + p] = c += batch.TypeIds[start + p];
        }
        _pendingSlots = slots;
        _pendingRows = new int[slots.Length];
        for (int b = 0; b < slots.Length; b++) _pendingRows[b] = batch.Length(b);
    }

    /// <summary>The staged rows become part of their slots.</summary>
    internal void Commit()
    {
        for (int b = 0; b < _pendingSlots.Length; b++) _lengths[_pendingSlots[b]] += _pendingRows[b];
        _pendingSlots = [];
        _pendingRows = [];
    }

    /// <summary>
    /// The additive mask of <paramref name="queries"/> staged rows of <paramref name="slot"/> against its first
    /// <paramref name="keys"/> rows (cached + staged); false when nothing is masked.
    /// </summary>
    internal bool FillMask(int slot, int queries, int keys, Span<float> mask)
    {
        var cumulative = _cumulativeTypes.AsSpan(SlotStart(slot), keys);
        return Seq2SeqMask.Fill(cumulative, cumulative[(keys - queries)..], mask);
    }
}

/// <summary>A forward's link to a cache: sequence b of the batch appends to slot <see cref="Slots"/>[b].</summary>
internal sealed record CachedRows(KeyValueCache Cache, int[] Slots)
{
    /// <summary>Absolute position of sequence b's first new row.</summary>
    public int FirstPosition(int sequence) => Cache.Length(Slots[sequence]);
}
