// The layer table of docs/ARCHITECTURE.md as tests: assembly references for the assemblies, and for the folders of the
// library every type a type's signatures or IL name (fields, bases, parameters, calls, allocations, casts...).
using System.Reflection;
using System.Reflection.Emit;

namespace Semblance.Tests;

public class ArchitectureTests
{
    private static readonly Assembly Numerics = typeof(Semblance.Numerics.Gemm).Assembly;
    private static readonly Assembly Library = typeof(SemblanceException).Assembly;
    private static readonly Assembly Cli = typeof(Semblance.Cli.CliApp).Assembly;
    private static readonly Assembly Server = typeof(Semblance.Server.EmbeddingServer).Assembly;
    private static readonly Assembly Extensions = typeof(Semblance.Extensions.SemblanceEmbeddingGenerator).Assembly;

    private static string[] OurReferences(Assembly a) =>
        [.. a.GetReferencedAssemblies().Select(r => r.Name!).Where(n => n.StartsWith("Semblance", StringComparison.Ordinal)).Order()];

    [Fact]
    public void AssembliesDependOnlyDownwards()
    {
        Assert.Empty(OurReferences(Numerics));
        Assert.Equal(["Semblance.Numerics"], OurReferences(Library));
        Assert.DoesNotContain("Semblance.Cli", OurReferences(Server));
        Assert.DoesNotContain("Semblance.Cli", OurReferences(Extensions));
        Assert.DoesNotContain("Semblance.Server", OurReferences(Extensions));
        Assert.Contains("Semblance", OurReferences(Cli));
    }

    /// <summary>Folder (namespace under Semblance.) → folders of the library it must not use.</summary>
    public static TheoryData<string, string[]> LibraryRules => new()
    {
        { "IO", ["Text", "Models", "Hub", "Embeddings", "Search", "Evaluation", "Training"] },
        { "Text", ["Models", "Hub", "Embeddings", "Search", "Evaluation", "Training"] },
        { "Models", ["Embeddings", "Search", "Evaluation", "Training"] },
        { "Hub", ["Models", "Embeddings", "Search", "Evaluation", "Training"] },
        { "Embeddings", ["Search", "Evaluation", "Training"] },
        { "Search", ["Evaluation", "Training"] },
        { "Evaluation", ["Search", "Training"] },
    };

    [Theory]
    [MemberData(nameof(LibraryRules))]
    public void LibraryFoldersDependOnlyOnTheLayersBelow(string layer, string[] forbidden)
    {
        var prefix = "Semblance." + layer;
        var types = Library.GetTypes().Where(t => InNamespace(t, prefix)).ToList();
        Assert.NotEmpty(types);
        var violations = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in types)
            foreach (var used in UsedTypes(type))
                foreach (var f in forbidden)
                    if (InNamespace(used, "Semblance." + f) && !Allowed(layer, used)) violations.Add($"{type.FullName} uses {used.FullName}");
        Assert.Empty(violations);
    }

    [Fact]
    public void TheDependencyScanSeesMethodBodies()
    {
        // SemanticIndex uses SentenceEncoder in signatures and Whitening only inside method bodies.
        var used = UsedTypes(typeof(Semblance.Search.SemanticIndex)).Select(t => t.FullName).ToHashSet();
        Assert.Contains("Semblance.Embeddings.SentenceEncoder", used);
        Assert.Contains("Semblance.Embeddings.EncoderOptions", used);
        // An allowed dependency is seen, so the forbidden ones above would be too: training uses evaluation.
        Assert.Contains(Library.GetTypes().Where(t => InNamespace(t, "Semblance.Training")).SelectMany(UsedTypes), t => InNamespace(t, "Semblance.Evaluation"));
    }

    /// <summary>
    /// The documented exceptions: a network module has a recording execution on the autodiff tape, and pools with the
    /// one pooling kernel (ARCHITECTURE.md, "One network definition"); the ONNX importer writes the sentence-transformers
    /// module files of the directory it produces.
    /// </summary>
    private static bool Allowed(string layer, Type used) =>
        layer == "Models" && (InNamespace(used, "Semblance.Training.Autodiff")
            || used.FullName is "Semblance.Embeddings.Pooling" or "Semblance.Embeddings.PoolingMode" or "Semblance.Embeddings.SentenceTransformersConfig");

    private static bool InNamespace(Type t, string prefix) =>
        t.Namespace is { } ns && (ns == prefix || ns.StartsWith(prefix + ".", StringComparison.Ordinal));

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Types named by a type's base, interfaces, fields, properties, method signatures and method bodies.</summary>
    private static IEnumerable<Type> UsedTypes(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null) return;
            while (t.HasElementType) t = t.GetElementType()!;
            if (!found.Add(t)) return;
            if (t.IsGenericType && !t.IsGenericTypeDefinition) foreach (var a in t.GetGenericArguments()) Add(a);
        }
        Add(type.BaseType);
        foreach (var i in type.GetInterfaces()) Add(i);
        foreach (var f in type.GetFields(All)) Add(f.FieldType);
        foreach (var p in type.GetProperties(All)) Add(p.PropertyType);
        foreach (var m in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            if (m is MethodInfo mi) Add(mi.ReturnType);
            foreach (var p in m.GetParameters()) Add(p.ParameterType);
            var body = m.GetMethodBody();
            if (body is null) continue;
            foreach (var l in body.LocalVariables) Add(l.LocalType);
            foreach (var token in TypeAndMemberTokens(body.GetILAsByteArray() ?? []))
            {
                try
                {
                    var member = m.Module.ResolveMember(token, type.IsGenericType ? type.GetGenericArguments() : null, m.IsGenericMethod ? m.GetGenericArguments() : null);
                    if (member is Type t) Add(t);
                    else Add(member?.DeclaringType);
                }
                catch (ArgumentException)
                {
                    // Tokens of generic instantiations that need a context this scan does not supply.
                }
            }
        }
        return found;
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The metadata tokens of every IL instruction whose operand is a type, field or method.</summary>
    private static IEnumerable<int> TypeAndMemberTokens(byte[] il)
    {
        int i = 0;
        while (i < il.Length)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    yield return BitConverter.ToInt32(il, i);
                    i += 4;
                    break;
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: i += 1; break;
                case OperandType.InlineVar: i += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: i += 8; break;
                case OperandType.InlineSwitch: i += 4 + 4 * BitConverter.ToInt32(il, i); break;
                default: i += 4; break;
            }
        }
    }
}
