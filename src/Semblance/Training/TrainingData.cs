// Training files for each loss, parsed with one-line errors naming file and line, and the per-epoch batch order.
using System.Globalization;
using Semblance.IO;

namespace Semblance.Training;

/// <summary>One training row: its sentences (one per loss column), an optional gold score, and a group label.</summary>
public sealed record TrainingRow(string[] Texts, float Score = 0f, string? Group = null);

/// <summary>
/// The examples of a training file. Formats by loss: simcse and flatnce one sentence per line (each becomes a row of
/// the sentence twice, the two passes differing by dropout); sup-simcse a&lt;TAB&gt;b[&lt;TAB&gt;hard negative], every
/// line the same arity; cosent a&lt;TAB&gt;b&lt;TAB&gt;score with the score in [0, 5]; am-softmax text&lt;TAB&gt;group with
/// every group holding at least two texts.
/// </summary>
public sealed class TrainingData
{
    public const double MaxScore = 5.0;

    private TrainingData(string source, TrainingLoss loss, List<TrainingRow> rows, Dictionary<string, List<string>>? groups)
    {
        Source = source;
        Loss = loss;
        Rows = rows;
        Groups = groups;
    }

    public string Source { get; }

    public TrainingLoss Loss { get; }

    /// <summary>The rows as read (for am-softmax, one row per text; pairs are drawn per epoch).</summary>
    public IReadOnlyList<TrainingRow> Rows { get; }

    /// <summary>am-softmax only: the texts of each group, in file order.</summary>
    public IReadOnlyDictionary<string, List<string>>? Groups { get; }

    /// <summary>Examples per epoch: rows, or for am-softmax the number of same-group pairs drawn.</summary>
    public int ExamplesPerEpoch => Groups is null ? Rows.Count : Groups.Values.Sum(g => (g.Count + 1) / 2);

    public static TrainingData Load(string path, TrainingLoss loss, PairLabels? labels = null) => Parse(TextLines.ReadFile(path), path, loss, labels);

    public static TrainingData Parse(IEnumerable<string> lines, string source, TrainingLoss loss, PairLabels? labels = null)
    {
        labels ??= new PairLabels();
        var rows = new List<TrainingRow>();
        Dictionary<string, List<string>>? groups = loss.Format == TrainingFormat.Groups ? new(StringComparer.Ordinal) : null;
        var classes = new Dictionary<string, int>(StringComparer.Ordinal);
        int? arity = null;
        long number = 0;
        foreach (var line in lines)
        {
            number++;
            if (line.Trim().Length == 0) continue;
            string where = $"{source}:{number}";
            var fields = line.Split('\t');
            switch (loss.Format)
            {
                case TrainingFormat.Sentences:
                    if (fields.Length != 1)
                        throw new InputFormatException($"{where}: {fields.Length} tab-separated columns, expected one sentence per line for --loss {loss}");
                    rows.Add(new TrainingRow([line, line]));
                    break;
                case TrainingFormat.Pairs when loss.TrainsMaskedLmHead:
                    if (fields.Length != 2)
                        throw new InputFormatException($"{where}: {fields.Length} tab-separated column{(fields.Length == 1 ? "" : "s")}, expected sentence<TAB>similar sentence for --loss {loss}");
                    RequireText(fields, where);
                    rows.Add(new TrainingRow(fields));
                    break;
                case TrainingFormat.Pairs:
                    if (fields.Length is < 2 or > 3)
                        throw new InputFormatException($"{where}: {fields.Length} tab-separated column{(fields.Length == 1 ? "" : "s")}, expected anchor<TAB>positive[<TAB>hard negative]");
                    arity ??= fields.Length;
                    if (fields.Length != arity)
                        throw new InputFormatException($"{where}: {fields.Length} columns, but earlier lines have {arity}; every line needs the same columns (anchor<TAB>positive[<TAB>hard negative])");
                    // A number where the hard negative goes is an STS score: taking it as a sentence would train on noise.
                    if (fields.Length == 3 && double.TryParse(fields[2], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                        throw new InputFormatException($"{where}: column 3 is the number '{fields[2]}', not a hard-negative sentence; this looks like an STS file (sentence1<TAB>sentence2<TAB>score): use --loss cosent for scored pairs, or give sup-simcse anchor<TAB>positive[<TAB>hard negative]");
                    RequireText(fields, where);
                    rows.Add(new TrainingRow(fields));
                    break;
                case TrainingFormat.ScoredPairs:
                    if (fields.Length != 3)
                        throw new InputFormatException($"{where}: {fields.Length} tab-separated column{(fields.Length == 1 ? "" : "s")}, expected sentence1<TAB>sentence2<TAB>score");
                    if (!double.TryParse(fields[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double score) || !double.IsFinite(score))
                        throw new InputFormatException($"{where}: score '{fields[2]}' is not a number; expected a similarity in [0, {MaxScore}] in column 3");
                    if (score < 0 || score > MaxScore)
                        throw new InputFormatException($"{where}: score {fields[2]} is out of range; expected a similarity in [0, {MaxScore}]");
                    RequireText(fields.AsSpan(0, 2).ToArray(), where);
                    rows.Add(new TrainingRow([fields[0], fields[1]], (float)score));
                    break;
                case TrainingFormat.LabelledPairs:
                    if (fields.Length != 3)
                        throw new InputFormatException($"{where}: {fields.Length} tab-separated column{(fields.Length == 1 ? "" : "s")}, expected text<TAB>text_pair<TAB>label for --task pair-score");
                    RequireText(fields.AsSpan(0, 2).ToArray(), where);
                    rows.Add(new TrainingRow([fields[0], fields[1]], PairTargetOf(fields[2], where, loss, labels)));
                    break;
                case TrainingFormat.Groups:
                    if (fields.Length != 2)
                        throw new InputFormatException($"{where}: {fields.Length} tab-separated column{(fields.Length == 1 ? "" : "s")}, expected text<TAB>group");
                    RequireText(fields, where);
                    rows.Add(new TrainingRow([fields[0]], Group: fields[1]));
                    if (!groups!.TryGetValue(fields[1], out var members)) groups[fields[1]] = members = [];
                    members.Add(fields[0]);
                    break;
                case TrainingFormat.Classes:
                    if (fields.Length != 2)
                        throw new InputFormatException($"{where}: {fields.Length} tab-separated column{(fields.Length == 1 ? "" : "s")}, expected text<TAB>group");
                    RequireText(fields, where);
                    if (!classes.TryGetValue(fields[1], out int index)) classes[fields[1]] = index = classes.Count;
                    rows.Add(new TrainingRow([fields[0]], index, fields[1]));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(loss), loss.Format, null);
            }
        }
        if (rows.Count == 0) throw new InputFormatException($"{source}: no training examples; expected {Expected(loss)}");
        if (groups is not null)
        {
            var single = groups.FirstOrDefault(g => g.Value.Count < 2);
            if (single.Key is not null)
                throw new InputFormatException($"{source}: group '{single.Key}' has only one member; am-softmax needs at least two texts per group (a positive pair)");
            if (groups.Count < 2) throw new InputFormatException($"{source}: only one group; am-softmax needs at least two groups (the others are the negatives)");
        }
        if (loss.Format == TrainingFormat.Classes && classes.Count < 2)
            throw new InputFormatException($"{source}: only one group; {loss} needs at least two groups (classes)");
        return new TrainingData(source, loss, rows, groups) { ClassCount = classes.Count };
    }

    /// <summary>The number of classes (distinct groups) of a Classes-format file (am-softmax-proxy); 0 otherwise.</summary>
    public int ClassCount { get; private init; }
    /// <summary>The target of a pair-score label as <paramref name="loss"/> needs it, or a one-line error naming the line.</summary>
    private static float PairTargetOf(string field, string where, TrainingLoss loss, PairLabels labels)
    {
        if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out double label) || !double.IsFinite(label))
            throw new InputFormatException($"{where}: label '{field}' in column 3 is not a number; --loss {loss} needs {Needs(loss, labels)}");
        switch (loss.Target)
        {
            case PairTarget.UnitInterval:
                double target = label / labels.MaxScore;
                if (target is < 0 or > 1)
                    throw new InputFormatException(string.Create(CultureInfo.InvariantCulture, $"{where}: label {field} is outside [0, {labels.MaxScore}]; --loss {loss} needs {Needs(loss, labels)}{(labels.MaxScore == 1 && label is > 1 and <= MaxScore ? " (for 0–5 STS scores pass --max-score 5)" : "")}"));
                return (float)target;
            case PairTarget.Class:
                if (label != Math.Floor(label) || label < 0 || label >= labels.NumLabels)
                    throw new InputFormatException($"{where}: label {field} is not a class index; --loss {loss} needs {Needs(loss, labels)}");
                return (float)label;
            default:
                return (float)label;
        }
    }

    private static string Needs(TrainingLoss loss, PairLabels labels) => loss.Target switch
    {
        PairTarget.UnitInterval when loss == TrainingLosses.PairBce => string.Create(CultureInfo.InvariantCulture, $"0/1 labels (or soft targets) in [0, 1] after dividing by --max-score {labels.MaxScore}"),
        PairTarget.UnitInterval => string.Create(CultureInfo.InvariantCulture, $"graded labels in [0, {labels.MaxScore}] (--max-score), trained as label / {labels.MaxScore}"),
        PairTarget.Class => $"an integer class 0..{labels.NumLabels - 1} (num_labels {labels.NumLabels})",
        _ => "a number (only the order of the labels matters)",
    };

    private static string Expected(TrainingLoss loss) => loss.Format switch
    {
        TrainingFormat.Sentences => "one sentence per line",
        TrainingFormat.Pairs when loss.TrainsMaskedLmHead => "sentence<TAB>similar sentence lines",
        TrainingFormat.Pairs => "anchor<TAB>positive[<TAB>hard negative] lines",
        TrainingFormat.ScoredPairs => "sentence1<TAB>sentence2<TAB>score lines",
        TrainingFormat.LabelledPairs => "text<TAB>text_pair<TAB>label lines",
        _ => "text<TAB>group lines",
    };

    private static void RequireText(string[] fields, string where)
    {
        for (int i = 0; i < fields.Length; i++)
            if (fields[i].Trim().Length == 0) throw new InputFormatException($"{where}: column {i + 1} is empty; expected text");
    }

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/>: a seeded shuffle of the rows (deterministic in seed and epoch, so
    /// a resumed run sees the same order). For am-softmax each group's texts are shuffled and paired, and a batch never
    /// holds two pairs of one group (its members would be false negatives).
    /// </summary>
    public List<TrainingRow[]> Batches(int batchSize, int seed, int epoch)
    {
        // System.Random with an explicit seed is stable across runs and .NET versions; HashCode is not (per-process salt).
        var rng = new Random((int)(Autodiff.DropoutMask.Mix(((ulong)(uint)seed << 32) | (uint)epoch) & 0x7FFFFFFF));
        if (Groups is null)
        {
            var order = Rows.ToArray();
            rng.Shuffle(order);
            return order.Chunk(batchSize).ToList();
        }
        var pairs = new List<TrainingRow>();
        foreach (var (group, members) in Groups.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var shuffled = members.ToArray();
            rng.Shuffle(shuffled);
            for (int i = 0; i + 1 < shuffled.Length; i += 2) pairs.Add(new TrainingRow([shuffled[i], shuffled[i + 1]], Group: group));
            if (shuffled.Length % 2 == 1) pairs.Add(new TrainingRow([shuffled[^1], shuffled[0]], Group: group));
        }
        var pending = pairs.ToArray();
        rng.Shuffle(pending);
        var batches = new List<TrainingRow[]>();
        var queue = new List<TrainingRow>(pending);
        while (queue.Count > 0)
        {
            var batch = new List<TrainingRow>();
            var used = new HashSet<string>(StringComparer.Ordinal);
            var rest = new List<TrainingRow>();
            foreach (var row in queue)
            {
                if (batch.Count < batchSize && used.Add(row.Group!)) batch.Add(row);
                else rest.Add(row);
            }
            batches.Add(batch.ToArray());
            queue = rest;
        }
        return batches;
    }
}
