// The on-disk index directory (docs/formats/index.md): checksummed data files, a manifest that is the commit point,
// an exclusive writer lock, and crash-safe generation switching.
using System.Buffers.Binary;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Semblance.Search;

/// <summary>One data file named by the manifest, with its payload size and CRC-32C.</summary>
internal sealed record IndexFileEntry(string Name, long Bytes, uint Crc32C);

/// <summary>The parsed manifest: which kind of index, its parameters, and the files of the current generation.</summary>
public sealed class IndexManifest
{
    public const string FileName = "manifest.json";
    public const string FormatName = "semblance-index";
    /// <summary>2: the "encoder" object replaces version 1's "model" and "whitening" paths; optional "fields" file.</summary>
    public const int CurrentVersion = 2;
    /// <summary>The kind of a CUR cross-encoder index (CrossEncoders/CurIndex): items and anchor matrices, no vectors.</summary>
    public const string CurKind = "cur";

    public int Version { get; init; } = CurrentVersion;
    public long Generation { get; init; }
    public required string Kind { get; init; }
    public required string Metric { get; init; }
    public int Dimension { get; init; }
    public long Count { get; init; }
    public long Slots { get; init; }
    /// <summary>The encoder of the indexed text, or null for an index built from vectors.</summary>
    public IndexEncoder? Encoder { get; init; }
    public JsonObject Parameters { get; init; } = [];
    internal Dictionary<string, IndexFileEntry> Files { get; init; } = [];

    internal string ToText()
    {
        var files = new JsonObject();
        foreach (var (role, f) in Files.OrderBy(p => p.Key, StringComparer.Ordinal))
            files[role] = new JsonObject { ["name"] = f.Name, ["bytes"] = f.Bytes, ["crc32c"] = f.Crc32C.ToString("x8", CultureInfo.InvariantCulture) };
        var o = new JsonObject
        {
            ["format"] = FormatName,
            ["version"] = Version,
            ["generation"] = Generation,
            ["kind"] = Kind,
            ["metric"] = Metric,
            ["dimension"] = Dimension,
            ["count"] = Count,
            ["slots"] = Slots,
            ["encoder"] = Encoder?.ToJson(),
            ["parameters"] = JsonNode.Parse(Parameters.ToJsonString()),
            ["files"] = files,
        };
        var json = o.ToJsonString();
        return json + "\n" + "crc32c " + Crc32C.Compute(Encoding.UTF8.GetBytes(json)).ToString("x8", CultureInfo.InvariantCulture) + "\n";
    }

    internal static IndexManifest Parse(string text, string path)
    {
        var lines = text.Split('\n');
        if (lines.Length < 2 || !lines[1].StartsWith("crc32c ", StringComparison.Ordinal))
            throw new InputFormatException($"{path}: not a Semblance index manifest (expected a JSON line and a 'crc32c' line)");
        if (lines.Length != 3 || lines[2].Length != 0)
            throw new InputFormatException($"{path}: manifest is truncated or has trailing text (expected exactly two lines, each ending in a newline)");
        var crc = Crc32C.Compute(Encoding.UTF8.GetBytes(lines[0])).ToString("x8", CultureInfo.InvariantCulture);
        if (lines[1][7..].Trim() != crc)
            throw new InputFormatException($"{path}: checksum mismatch (file is corrupt; expected crc32c {SemblanceException.Excerpt(lines[1][7..].Trim(), 16)}, got {crc})");
        static InputFormatException Error(string m) => new(m);
        var o = IO.StrictJson.ParseNode(Encoding.UTF8.GetBytes(lines[0]), path, Error) as JsonObject
            ?? throw new InputFormatException($"{path}: the manifest's first line is not a JSON object");
        T Field<T>(JsonObject obj, string name) => IO.StrictJson.Field<T>(obj, name, path, Error)!;
        if (IO.StrictJson.Field<string>(o, "format", path, Error, optional: true) != FormatName)
            throw new InputFormatException($"{path}: not a Semblance index manifest (format field is not '{FormatName}')");
        int version = Field<int>(o, "version");
        if (version > CurrentVersion)
            throw new InputFormatException($"{path}: index format version {version} was written by a newer Semblance; this build reads versions up to {CurrentVersion}");
        if (version < 1) throw new InputFormatException($"{path}: index format version {version} is invalid (expected 1..{CurrentVersion})");
        var files = new Dictionary<string, IndexFileEntry>();
        var filesNode = o["files"] as JsonObject ?? throw new InputFormatException($"{path}: manifest field 'files' is missing or not an object");
        foreach (var (role, node) in filesNode)
        {
            var f = node as JsonObject ?? throw new InputFormatException($"{path}: files.{SemblanceException.Excerpt(role)} is not an object");
            var name = Field<string>(f, "name");
            if (name.Length == 0 || name.Contains('/') || name.Contains('\\') || name.StartsWith('.') || name.Contains('\0'))
                throw new InputFormatException($"{path}: file name {SemblanceException.Excerpt(name)} is not a plain file name");
            var crcText = Field<string>(f, "crc32c");
            if (crcText.Length != 8 || !uint.TryParse(crcText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var c))
                throw new InputFormatException($"{path}: files.{SemblanceException.Excerpt(role)}.crc32c is not 8 hex digits");
            long bytes = Field<long>(f, "bytes");
            if (bytes < 0) throw new InputFormatException($"{path}: files.{SemblanceException.Excerpt(role)}.bytes is negative");
            files[role] = new IndexFileEntry(name, bytes, c);
        }
        return new IndexManifest
        {
            Version = version,
            Generation = Field<long>(o, "generation"),
            Kind = Field<string>(o, "kind"),
            Metric = Field<string>(o, "metric"),
            Dimension = Field<int>(o, "dimension"),
            Count = Field<long>(o, "count"),
            Slots = Field<long>(o, "slots"),
            Encoder = version >= 2 ? IndexEncoder.FromJson(o["encoder"], path)
                : IO.StrictJson.Field<string>(o, "model", path, Error, optional: true) is { } model
                    ? new IndexEncoder { Model = model, Whitening = IO.StrictJson.Field<string>(o, "whitening", path, Error, optional: true) } : null,
            Parameters = o["parameters"] switch
            {
                null => [],
                JsonObject p => (JsonObject)JsonNode.Parse(p.ToJsonString())!,
                _ => throw new InputFormatException($"{path}: manifest field 'parameters' is not an object"),
            },
            Files = files,
        };
    }
}

/// <summary>Data-file container: a 64-byte header (magic, version, role, payload length, CRC-32C) then the payload.</summary>
internal static class IndexDataFile
{
    public const int HeaderBytes = 64;
    private static readonly byte[] Magic = "SEMBLIDX"u8.ToArray();

    /// <summary>Writes a data file (not yet referenced by any manifest), fsyncs it, and returns its manifest entry.</summary>
    internal static IndexFileEntry Write(string directory, string name, Action<Stream> writePayload)
    {
        var path = Path.Combine(directory, name);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20);
        fs.Write(new byte[HeaderBytes]);
        using (var crc = new CrcStream(fs))
        {
            writePayload(crc);
            var header = new byte[HeaderBytes];
            Magic.CopyTo(header, 0);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), IndexManifest.CurrentVersion);
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), crc.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), crc.Checksum);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(28), Crc32C.Compute(header.AsSpan(0, 28)));
            fs.Position = 0;
            fs.Write(header);
            fs.Flush(flushToDisk: true);
            return new IndexFileEntry(name, crc.Length, crc.Checksum);
        }
    }

    /// <summary>Maps a data file read-only after checking its header against the manifest and its payload CRC.</summary>
    internal static MappedFile Map(string directory, IndexFileEntry entry, bool verify)
    {
        var path = Path.Combine(directory, entry.Name);
        if (!File.Exists(path)) throw new InputFormatException($"{path}: index data file is missing (named by {IndexManifest.FileName})");
        long size = new FileInfo(path).Length;
        if (size != HeaderBytes + entry.Bytes)
            throw new InputFormatException($"{path}: index data file is truncated or has trailing bytes ({size} bytes, expected {HeaderBytes + entry.Bytes})");
        var mapped = new MappedFile(path, size);
        try
        {
            var header = mapped.Span(0, HeaderBytes);
            if (!header[..8].SequenceEqual(Magic)) throw new InputFormatException($"{path}: not a Semblance index data file (bad magic)");
            if (BinaryPrimitives.ReadUInt32LittleEndian(header[28..]) != Crc32C.Compute(header[..28]))
                throw new InputFormatException($"{path}: header checksum mismatch (file is corrupt)");
            int version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
            if (version > IndexManifest.CurrentVersion)
                throw new InputFormatException($"{path}: data file format version {version} was written by a newer Semblance; this build reads versions up to {IndexManifest.CurrentVersion}");
            if (BinaryPrimitives.ReadInt64LittleEndian(header[16..]) != entry.Bytes || BinaryPrimitives.ReadUInt32LittleEndian(header[24..]) != entry.Crc32C)
                throw new InputFormatException($"{path}: header does not match the manifest (file from another generation?)");
            if (verify)
            {
                unsafe
                {
                    uint c = Crc32C.Compute(mapped.Pointer + HeaderBytes, entry.Bytes);
                    if (c != entry.Crc32C)
                        throw new InputFormatException($"{path}: checksum mismatch (file is corrupt; expected crc32c {entry.Crc32C:x8}, got {c:x8})");
                }
            }
            return mapped;
        }
        catch
        {
            mapped.Dispose();
            throw;
        }
    }

    private sealed class CrcStream(Stream inner) : Stream
    {
        private uint _crc = 0xFFFFFFFFu;
        public uint Checksum => ~_crc;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        private long _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _crc = Crc32C.Append(_crc, buffer);
            _length += buffer.Length;
            inner.Write(buffer);
        }
        protected override void Dispose(bool disposing) { }
    }
}

/// <summary>A read-only memory mapping of a whole file; the pointer stays valid until disposed.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _mmf;
    private readonly MemoryMappedViewAccessor _view;
    private bool _disposed;

    internal MappedFile(string path, long size)
    {
        _mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _mmf.CreateViewAccessor(0, size, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        Pointer = p + _view.PointerOffset;
        Length = size;
    }

    public byte* Pointer { get; }
    public long Length { get; }

    public ReadOnlySpan<byte> Span(long offset, int length) => new(Pointer + offset, length);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mmf.Dispose();
    }
}

/// <summary>
/// Exclusive writer lock on an index directory (an OS file lock on <c>LOCK</c>, released automatically if the process
/// dies). Readers never take it: they see the last committed manifest.
/// </summary>
internal sealed class IndexLock : IDisposable
{
    public const string FileName = "LOCK";
    private static readonly Dictionary<string, IndexLock> Held = new(StringComparer.Ordinal);
    private readonly FileStream _stream;
    private readonly string _directory;

    private IndexLock(string directory, FileStream stream)
    {
        _directory = directory;
        _stream = stream;
    }

    /// <summary>Takes the lock or fails at once with a one-line error naming the directory.</summary>
    public static IndexLock Acquire(string directory)
    {
        var full = Path.GetFullPath(directory);
        if (!Directory.Exists(full)) throw new SemblanceException($"{directory}: index directory does not exist");
        lock (Held)
        {
            if (Held.ContainsKey(full)) throw new SemblanceException($"{directory}: the index is already open for writing in this process");
            FileStream fs;
            try
            {
                fs = new FileStream(Path.Combine(full, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
            {
                throw new SemblanceException($"{directory}: another process is writing this index (lock file {FileName} is held); wait for it to finish and retry");
            }
            var l = new IndexLock(full, fs);
            Held[full] = l;
            return l;
        }
    }

    internal static bool IsHeldHere(string directory)
    {
        lock (Held) return Held.ContainsKey(Path.GetFullPath(directory));
    }

    public void Dispose()
    {
        lock (Held)
        {
            if (Held.TryGetValue(_directory, out var l) && ReferenceEquals(l, this)) Held.Remove(_directory);
        }
        _stream.Dispose();
    }
}

internal static partial class IndexDirectory
{
    /// <summary>Reads the current manifest; a directory without one is a clear user error.</summary>
    public static IndexManifest ReadManifest(string directory)
    {
        if (!Directory.Exists(directory)) throw new SemblanceException($"{directory}: index directory does not exist");
        var path = Path.Combine(directory, IndexManifest.FileName);
        if (!File.Exists(path)) throw new InputFormatException($"{directory}: not an index (no {IndexManifest.FileName}); create one with 'semblance index build'");
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException)
        {
            throw new InputFormatException($"{path}: manifest is not valid UTF-8 (file is corrupt)");
        }
        return IndexManifest.Parse(text, path);
    }

    public static string FileName(string role, long generation) => $"{role}.{generation}.bin";

    /// <summary>
    /// The start of every save: claims the directory, takes the writer lock unless this process holds it (the lock to
    /// dispose, or null), deletes files no manifest names, and returns the generation to write.
    /// </summary>
    public static (IndexLock? Lock, long Generation) BeginSave(string directory)
    {
        Claim(directory, replace: true);
        var own = IndexLock.IsHeldHere(directory) ? null : IndexLock.Acquire(directory);
        IndexManifest? old = File.Exists(Path.Combine(directory, IndexManifest.FileName)) ? ReadManifest(directory) : null;
        CollectGarbage(directory, old);
        return (own, (old?.Generation ?? 0) + 1);
    }

    /// <summary>
    /// The commit point: the manifest is written to a temp file, fsynced, renamed over manifest.json and the directory
    /// fsynced. Afterwards files of other generations (and temp files of crashed writers) are deleted.
    /// </summary>
    public static void Commit(string directory, IndexManifest manifest)
    {
        FsyncDirectory(directory);
        IO.AtomicFile.WriteAllText(Path.Combine(directory, IndexManifest.FileName), manifest.ToText());
        FsyncDirectory(directory);
        CollectGarbage(directory, manifest);
    }

    /// <summary>
    /// Deletes files no manifest names: only call with the writer lock held. Only names this code writes
    /// (<c>ROLE.GEN.bin</c> and the temp files of <see cref="IO.AtomicFile"/>) are candidates, and only in a directory
    /// that carries the index marker or a manifest: a file the user put there is never deleted.
    /// </summary>
    public static void CollectGarbage(string directory, IndexManifest? current)
    {
        if (!IsOwned(directory)) return;
        var keep = new HashSet<string>(StringComparer.Ordinal) { IndexManifest.FileName, IndexLock.FileName, IO.OutputDirectory.MarkerFile };
        if (current is not null) foreach (var f in current.Files.Values) keep.Add(f.Name);
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            var name = Path.GetFileName(path);
            if (keep.Contains(name) || !OwnFileName().IsMatch(name)) continue;
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Data files (<c>ROLE.GEN.bin</c>) and crash-left temp files (<c>.NAME….tmp</c>) of an index writer.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^((items|vectors|graph|quantizer|originals|cur)\.[0-9]+\.bin|\..+\.tmp)$")]
    private static partial System.Text.RegularExpressions.Regex OwnFileName();

    /// <summary>An index directory: it carries the index marker, or (written before markers existed) a manifest.</summary>
    public static bool IsOwned(string directory) => IO.OutputDirectory.IsOwned(directory, IndexManifest.FormatName, HasManifest);

    private static bool HasManifest(string directory) => File.Exists(Path.Combine(directory, IndexManifest.FileName));

    /// <summary>
    /// The ownership rule for index directories (see <see cref="IO.OutputDirectory"/>): new, empty or already an index;
    /// an existing index is accepted only when <paramref name="replace"/> is true. <paramref name="create"/> false only
    /// checks.
    /// </summary>
    public static void Claim(string directory, bool replace, bool create = true)
    {
        const string hint = "use 'semblance index add', choose a new directory, or pass --force to replace it";
        // An index directory without a manifest (a build that failed before its first commit) holds no index to lose.
        replace = replace || !HasManifest(directory);
        if (create) IO.OutputDirectory.Claim(directory, IndexManifest.FormatName, replace, hint, HasManifest);
        else IO.OutputDirectory.Check(directory, IndexManifest.FormatName, replace, hint, HasManifest);
    }

    private static void FsyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        int fd = Open(Path.GetFullPath(directory), 0);
        if (fd < 0) return;
        try { Fsync(fd); } finally { Close(fd); }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
