// Reads the manifest resources embedded in a .NET assembly file from its metadata, without loading the assembly.
using System.Buffers.Binary;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Semblance.IO;

/// <summary>
/// Embedded manifest resources of a .NET assembly (.dll), found through System.Reflection.Metadata: the assembly is
/// read as a file and never loaded or run. Resources linked from other files are listed but cannot be opened.
/// </summary>
internal static class ManagedResources
{
    /// <summary>The names of every manifest resource, in metadata order.</summary>
    public static IReadOnlyList<string> List(string assemblyPath)
    {
        using var fs = OpenFile(assemblyPath);
        return Read(fs, assemblyPath, (reader, _, _) => reader.ManifestResources.Select(h => reader.GetString(reader.GetManifestResource(h).Name)).ToList());
    }

    /// <summary>
    /// A read-only, seekable stream over embedded resource <paramref name="resourceName"/> (exact, case-sensitive
    /// name); the caller disposes it. Errors name the file and the resource.
    /// </summary>
    public static Stream Open(string assemblyPath, string resourceName)
    {
        var fs = OpenFile(assemblyPath);
        try
        {
            var (start, length) = Read(fs, assemblyPath, (reader, headers, _) =>
            {
                var names = new List<string>();
                foreach (var handle in reader.ManifestResources)
                {
                    var resource = reader.GetManifestResource(handle);
                    var name = reader.GetString(resource.Name);
                    names.Add(name);
                    if (name != resourceName) continue;
                    if (!resource.Implementation.IsNil)
                        throw new SemblanceException($"{assemblyPath}: resource '{resourceName}' is stored in another file, not embedded in this assembly");
                    var directory = headers.CorHeader!.ResourcesDirectory;
                    if (!headers.TryGetDirectoryOffset(directory, out int directoryOffset))
                        throw new SemblanceException($"{assemblyPath}: the resources directory of the assembly cannot be located; the file is damaged");
                    long at = directoryOffset + resource.Offset;
                    if (resource.Offset + 4 > directory.Size || at + 4 > fs.Length)
                        throw new SemblanceException($"{assemblyPath}: resource '{resourceName}' lies outside the file; the file is truncated or damaged");
                    Span<byte> prefix = stackalloc byte[4];
                    fs.Position = at;
                    fs.ReadExactly(prefix);
                    long size = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
                    if (resource.Offset + 4 + size > directory.Size || at + 4 + size > fs.Length)
                        throw new SemblanceException($"{assemblyPath}: resource '{resourceName}' ({size} bytes) runs past the end of the file; the file is truncated or damaged");
                    return (at + 4, size);
                }
                string known = names.Count == 0 ? "it has none" : "it has: " + string.Join(", ", names.Take(10)) + (names.Count > 10 ? ", ..." : "");
                throw new SemblanceException($"{assemblyPath}: no embedded resource '{resourceName}'; {known}");
            });
            return new FileSegmentStream(fs, start, length);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    private static FileStream OpenFile(string assemblyPath)
    {
        try
        {
            return new FileStream(assemblyPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SemblanceException($"{assemblyPath}: file not found; expected a .NET assembly (.dll)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SemblanceException($"{assemblyPath}: cannot read ({e.Message})", e);
        }
    }

    private static T Read<T>(FileStream fs, string assemblyPath, Func<MetadataReader, PEHeaders, FileStream, T> read)
    {
        try
        {
            using var pe = new PEReader(fs, PEStreamOptions.LeaveOpen);
            if (!pe.HasMetadata || pe.PEHeaders.CorHeader is null)
                throw new SemblanceException($"{assemblyPath}: not a .NET assembly (a PE file without CLI metadata)");
            return read(pe.GetMetadataReader(), pe.PEHeaders, fs);
        }
        catch (BadImageFormatException e)
        {
            throw new SemblanceException($"{assemblyPath}: not a .NET assembly ({e.Message})");
        }
    }

    /// <summary>A read-only window [start, start + length) of a file; disposing it closes the file.</summary>
    private sealed class FileSegmentStream(FileStream file, long start, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            long left = length - _position;
            if (left <= 0) return 0;
            if (buffer.Length > left) buffer = buffer[..(int)left];
            file.Position = start + _position;
            int n = file.Read(buffer);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) file.Dispose();
            base.Dispose(disposing);
        }
    }
}
