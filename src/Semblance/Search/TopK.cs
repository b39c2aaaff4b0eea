// Bounded min-heap of (score, slot) keeping the k largest scores seen, for scans and graph searches.
namespace Semblance.Search;

internal sealed class TopK
{
    private readonly float[] _scores;
    private readonly int[] _slots;

    public TopK(int capacity)
    {
        _scores = new float[Math.Max(1, capacity)];
        _slots = new int[Math.Max(1, capacity)];
        Capacity = capacity;
    }

    public int Capacity { get; }
    public int Count { get; private set; }

    /// <summary>A candidate must beat this to enter: -inf until full, then the smallest kept score.</summary>
    public float Threshold => Count < Capacity ? float.NegativeInfinity : _scores[0];

    public void Clear() => Count = 0;

    public void Push(float score, int slot)
    {
        if (Count < Capacity)
        {
            int i = Count++;
            while (i > 0)
            {
                int parent = (i - 1) >> 1;
                if (_scores[parent] <= score) break;
                _scores[i] = _scores[parent];
                _slots[i] = _slots[parent];
                i = parent;
            }
            _scores[i] = score;
            _slots[i] = slot;
            return;
        }
        if (score <= _scores[0]) return;
        SiftDown(score, slot);
    }

    private void SiftDown(float score, int slot)
    {
        int n = Count, i = 0;
        while (true)
        {
            int c = 2 * i + 1;
            if (c >= n) break;
            if (c + 1 < n && _scores[c + 1] < _scores[c]) c++;
            if (_scores[c] >= score) break;
            _scores[i] = _scores[c];
            _slots[i] = _slots[c];
            i = c;
        }
        _scores[i] = score;
        _slots[i] = slot;
    }

    public void MergeFrom(TopK other)
    {
        for (int i = 0; i < other.Count; i++) Push(other._scores[i], other._slots[i]);
    }

    /// <summary>The kept entries, best first (ties broken by smaller slot, so results are deterministic).</summary>
    public (int Slot, float Score)[] ToSorted()
    {
        var r = new (int Slot, float Score)[Count];
        for (int i = 0; i < Count; i++) r[i] = (_slots[i], _scores[i]);
        Array.Sort(r, static (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Slot.CompareTo(b.Slot));
        return r;
    }
}
