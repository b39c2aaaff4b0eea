// String ids, optional payloads and deletion marks of the items in an index, by slot (insertion order).
using System.Buffers.Binary;
using System.Text;

namespace Semblance.Search;

internal sealed class ItemStore
{
    private readonly List<string> _ids = [];
    private readonly List<string?> _payloads = [];
    private readonly List<bool> _deleted = [];
    private readonly Dictionary<string, int> _slotOf = new(StringComparer.Ordinal);
    private bool[]? _deletedSnapshot;

    public int Slots => _ids.Count;
    public int Live => _slotOf.Count;
    public int DeletedCount => _ids.Count - _slotOf.Count;

    public string Id(int slot) => _ids[slot];
    public string? Text(int slot) => _payloads[slot];
    public bool IsDeleted(int slot) => _deleted[slot];
    public bool Contains(string id) => _slotOf.ContainsKey(id);
    public bool TryGetSlot(string id, out int slot) => _slotOf.TryGetValue(id, out slot);

    /// <summary>Deletion marks as an array for hot loops; null when nothing is deleted.</summary>
    public bool[]? DeletedMask => DeletedCount == 0 ? null : _deletedSnapshot ??= _deleted.ToArray();

    /// <summary>Checks a batch of new ids before anything is modified: non-empty, unique, not already present (unless allowed).</summary>
    public void Validate(IReadOnlyList<string> ids, bool allowPresent = false)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < ids.Count; i++)
        {
            var id = ids[i];
            if (string.IsNullOrEmpty(id)) throw new InputFormatException($"item {i}: id is empty; every item needs a non-empty id");
            if (!allowPresent && _slotOf.ContainsKey(id))
                throw new InputFormatException($"item {i}: id '{id}' is already in the index; ids must be unique (replace it with upsert, 'index add --upsert', or remove it with 'index remove')");
            if (!seen.Add(id)) throw new InputFormatException($"item {i}: id '{id}' appears twice in the batch; ids must be unique");
        }
    }

    public void Add(IReadOnlyList<string> ids, IReadOnlyList<string?>? texts)
    {
        for (int i = 0; i < ids.Count; i++)
        {
            _slotOf.Add(ids[i], _ids.Count);
            _ids.Add(ids[i]);
            _payloads.Add(texts?[i]);
            _deleted.Add(false);
        }
        _deletedSnapshot = null;
    }

    public bool Remove(string id)
    {
        if (!_slotOf.Remove(id, out int slot)) return false;
        _deleted[slot] = true;
        _deletedSnapshot = null;
        return true;
    }

    public void Write(Stream s)
    {
        int n = _ids.Count;
        var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
        w.Write((long)n);
        for (int i = 0; i < n; i++) w.Write((byte)((_deleted[i] ? 1 : 0) | (_payloads[i] is null ? 0 : 2)));
        long end = 0;
        for (int i = 0; i < n; i++) w.Write(end += Encoding.UTF8.GetByteCount(_ids[i]));
        end = 0;
        for (int i = 0; i < n; i++) w.Write(end += _payloads[i] is { } p ? Encoding.UTF8.GetByteCount(p) : 0);
        for (int i = 0; i < n; i++) w.Write(Encoding.UTF8.GetBytes(_ids[i]));
        for (int i = 0; i < n; i++) if (_payloads[i] is { } p) w.Write(Encoding.UTF8.GetBytes(p));
        w.Flush();
    }

    public static unsafe ItemStore Read(MappedFile file, string path)
    {
        var store = new ItemStore();
        long len = file.Length - IndexDataFile.HeaderBytes;
        var p = new ReadOnlySpan<byte>(file.Pointer + IndexDataFile.HeaderBytes, (int)Math.Min(len, int.MaxValue));
        if (p.Length < 8) throw new InputFormatException($"{path}: items file is truncated");
        long n = BinaryPrimitives.ReadInt64LittleEndian(p);
        // Each item needs at least 17 bytes (flags + two offsets); dividing avoids the wrap of n * 17.
        if (n < 0 || n > (p.Length - 8) / 17) throw new InputFormatException($"{path}: items file is truncated or has a bad count ({n})");
        var flags = p.Slice(8, (int)n);
        int idEnds = 8 + (int)n, payEnds = idEnds + 8 * (int)n, idBase = payEnds + 8 * (int)n;
        long idTotal = n == 0 ? 0 : BinaryPrimitives.ReadInt64LittleEndian(p[(idEnds + 8 * ((int)n - 1))..]);
        long payTotal = n == 0 ? 0 : BinaryPrimitives.ReadInt64LittleEndian(p[(payEnds + 8 * ((int)n - 1))..]);
        if (idTotal < 0 || payTotal < 0 || idTotal > p.Length || payTotal > p.Length || idBase + idTotal + payTotal != p.Length)
            throw new InputFormatException($"{path}: items file sizes are inconsistent");
        int payBase = idBase + (int)idTotal;
        long idStart = 0, payStart = 0;
        var utf8 = new UTF8Encoding(false, true);
        for (int i = 0; i < n; i++)
        {
            long idEnd = BinaryPrimitives.ReadInt64LittleEndian(p[(idEnds + 8 * i)..]);
            long payEnd = BinaryPrimitives.ReadInt64LittleEndian(p[(payEnds + 8 * i)..]);
            if (idEnd < idStart || payEnd < payStart || idEnd > idTotal || payEnd > payTotal) throw new InputFormatException($"{path}: items file offsets are inconsistent at item {i}");
            string id;
            string? payload;
            try
            {
                id = utf8.GetString(p.Slice(idBase + (int)idStart, (int)(idEnd - idStart)));
                payload = (flags[i] & 2) != 0 ? utf8.GetString(p.Slice(payBase + (int)payStart, (int)(payEnd - payStart))) : null;
            }
            catch (DecoderFallbackException)
            {
                throw new InputFormatException($"{path}: item {i}: id or payload is not valid UTF-8 (the file is damaged)");
            }
            if ((flags[i] & ~3) != 0) throw new InputFormatException($"{path}: item {i}: unknown flag bits {flags[i]:x2}");
            bool deleted = (flags[i] & 1) != 0;
            store._ids.Add(id);
            store._payloads.Add(payload);
            store._deleted.Add(deleted);
            if (!deleted && !store._slotOf.TryAdd(id, i)) throw new InputFormatException($"{path}: id {SemblanceException.Excerpt(id)} appears twice");
            idStart = idEnd;
            payStart = payEnd;
        }
        return store;
    }
}
