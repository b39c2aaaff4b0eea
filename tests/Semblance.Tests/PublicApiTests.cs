// The public surface of the shipped assemblies, checked against docs/api/public-api.txt so that it changes only on
// purpose. After an intended change, regenerate the file with
//   SEMBLANCE_UPDATE_PUBLIC_API=1 dotnet test tests/Semblance.Tests -c Release --filter PublicApiTests
// and review its diff like any other code.
using System.Reflection;
using System.Text;

namespace Semblance.Tests;

public class PublicApiTests
{
    private static readonly Assembly[] Shipped =
    [
        typeof(Semblance.Numerics.ComputeContext).Assembly,
        typeof(SemblanceException).Assembly,
        typeof(Semblance.Server.EmbeddingServer).Assembly,
        typeof(Semblance.Extensions.SemblanceEmbeddingGenerator).Assembly,
    ];

    private static string ApprovedPath([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "docs", "api", "public-api.txt"));

    [Fact]
    public void PublicSurfaceMatchesTheApprovedList()
    {
        string actual = Describe(Shipped);
        string path = ApprovedPath();
        if (Environment.GetEnvironmentVariable("SEMBLANCE_UPDATE_PUBLIC_API") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
        }
        Assert.True(File.Exists(path), $"{path} is missing; create it with SEMBLANCE_UPDATE_PUBLIC_API=1");
        string[] approved = File.ReadAllLines(path);
        string[] now = actual.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var added = now.Except(approved).ToArray();
        var removed = approved.Except(now).ToArray();
        Assert.True(added.Length == 0 && removed.Length == 0,
            "the public API changed (regenerate docs/api/public-api.txt with SEMBLANCE_UPDATE_PUBLIC_API=1 if intended):\n"
            + string.Join("\n", added.Select(a => "+ " + a).Concat(removed.Select(r => "- " + r)).Take(60)));
    }

    [Fact]
    public void PlumbingIsNotPublic()
    {
        var exported = Shipped.SelectMany(a => a.GetExportedTypes()).Select(t => t.Name).ToHashSet();
        foreach (string name in new[] { "Crc32C", "IndexLock", "MappedFile", "AtomicFile", "StrictJson", "Tape", "Gemm", "PackedWeight", "SafeTensorsWriter" })
            Assert.DoesNotContain(name, exported);
    }

    internal static string Describe(IEnumerable<Assembly> assemblies)
    {
        var lines = new List<string>();
        foreach (var asm in assemblies)
        {
            string prefix = asm.GetName().Name!;
            foreach (var type in asm.GetExportedTypes())
            {
                string typeName = Name(type);
                lines.Add($"{prefix} {Kind(type)} {typeName}{Bases(type)}");
                const BindingFlags flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance
                                           | BindingFlags.Static | BindingFlags.DeclaredOnly;
                foreach (var member in type.GetMembers(flags))
                {
                    string? text = Member(member);
                    if (text != null) lines.Add($"{prefix} {typeName}::{text}");
                }
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return string.Join("\n", lines) + "\n";
    }

    private static string Kind(Type t) =>
        t.IsEnum ? "enum" : t.IsInterface ? "interface" : t.IsValueType ? "struct"
        : typeof(Delegate).IsAssignableFrom(t) ? "delegate"
        : t.IsAbstract && t.IsSealed ? "static class" : t.IsAbstract ? "abstract class" : t.IsSealed ? "sealed class" : "class";

    private static string Bases(Type t)
    {
        var parts = new List<string>();
        if (t.BaseType != null && t.BaseType != typeof(object) && t.BaseType != typeof(ValueType) && t.BaseType != typeof(Enum)
            && !typeof(Delegate).IsAssignableFrom(t))
            parts.Add(Name(t.BaseType));
        parts.AddRange(t.GetInterfaces().Where(i => i.IsPublic || i.IsNestedPublic).Select(Name).Order(StringComparer.Ordinal));
        return parts.Count == 0 ? "" : " : " + string.Join(", ", parts);
    }

    private static bool Visible(MethodBase? m) => m != null && (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly);

    private static string? Member(MemberInfo member)
    {
        switch (member)
        {
            case ConstructorInfo c when Visible(c):
                return $"{(c.IsStatic ? "static " : "")}.ctor({Parameters(c)})";
            case MethodInfo m when Visible(m) && !m.IsSpecialName:
                return $"{(m.IsStatic ? "static " : "")}{Name(m.ReturnType)} {m.Name}{Generic(m)}({Parameters(m)})";
            case MethodInfo m when Visible(m) && m.Name.StartsWith("op_", StringComparison.Ordinal):
                return $"static {Name(m.ReturnType)} {m.Name}({Parameters(m)})";
            case PropertyInfo p:
                var get = p.GetMethod; var set = p.SetMethod;
                if (!Visible(get) && !Visible(set)) return null;
                string index = p.GetIndexParameters().Length > 0 ? $"[{Parameters(p.GetIndexParameters())}]" : "";
                bool init = set != null && set.ReturnParameter.GetRequiredCustomModifiers().Any(x => x.Name == "IsExternalInit");
                string accessors = (Visible(get) ? "get; " : "") + (Visible(set) ? (init ? "init; " : "set; ") : "");
                bool isStatic = (get ?? set)!.IsStatic;
                return $"{(isStatic ? "static " : "")}{Name(p.PropertyType)} {p.Name}{index} {{ {accessors}}}";
            case FieldInfo f when f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly:
                if (f.DeclaringType!.IsEnum) return f.IsSpecialName ? null : $"{f.Name} = {f.GetRawConstantValue()}";
                return $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{(f.IsInitOnly ? "readonly " : "")}{Name(f.FieldType)} {f.Name}";
            case EventInfo e when Visible(e.AddMethod):
                return $"event {Name(e.EventHandlerType!)} {e.Name}";
            default:
                return null;
        }
    }

    private static string Generic(MethodInfo m) =>
        m.IsGenericMethodDefinition ? "<" + string.Join(", ", m.GetGenericArguments().Select(a => a.Name)) + ">" : "";

    private static string Parameters(MethodBase m) => Parameters(m.GetParameters());

    private static string Parameters(ParameterInfo[] ps) =>
        string.Join(", ", ps.Select(p =>
        {
            var sb = new StringBuilder();
            if (p.IsOut) sb.Append("out ");
            else if (p.ParameterType.IsByRef) sb.Append(p.IsIn ? "in " : "ref ");
            sb.Append(Name(p.ParameterType)).Append(' ').Append(p.Name);
            if (p.HasDefaultValue) sb.Append(" = ").Append(p.DefaultValue switch { null => "null", string s => $"\"{s}\"", bool b => b ? "true" : "false", var v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) });
            return sb.ToString();
        }));

    private static string Name(Type t)
    {
        if (t.IsByRef) return Name(t.GetElementType()!);
        if (t.IsArray) return Name(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        if (t.IsPointer) return Name(t.GetElementType()!) + "*";
        if (t.IsGenericParameter) return t.Name;
        string name = t.IsNested ? Name(t.DeclaringType!) + "." + t.Name : (t.Namespace is { Length: > 0 } ns ? ns + "." : "") + t.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        if (t.IsGenericType)
        {
            var args = t.GetGenericArguments();
            if (t.IsNested)
            {
                int outer = t.DeclaringType!.GetGenericArguments().Length;
                args = args[outer..];
                if (args.Length == 0) return name;
            }
            name += "<" + string.Join(", ", args.Select(Name)) + ">";
        }
        return name;
    }
}
