// SimBERT-style decoding over the one network: the source is encoded once into a key/value cache and each new target
// token costs one row (or, without the cache, the whole sequence is recomputed: the reference the cache is checked
// against). Greedy, sampling and Hugging Face's beam search share the states below; --rank is SimBERT's recipe.
using System.Numerics.Tensors;
using Semblance.Models;

namespace Semblance.Generation;

public sealed partial class MaskedLanguageModel
{
    /// <summary>Bytes of keys and values one decoding group may hold; larger requests are decoded in several groups.</summary>
    private const long CacheBudgetBytes = 256L << 20;

    /// <summary>
    /// Generates candidates for every source with <paramref name="options"/>. Each source is <c>[CLS] source [SEP]</c>
    /// (type 0, truncated to leave room for <see cref="DecodingOptions.MaxNewTokens"/>); new tokens are type 1;
    /// [PAD], [UNK], [CLS] and [MASK] are never generated; a [SEP] ends a candidate.
    /// </summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<string> sources, DecodingOptions options)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(_model.MaxPositions);
        var encoded = new (int[] Ids, bool Truncated)[sources.Count];
        for (int i = 0; i < sources.Count; i++) encoded[i] = EncodeSource(sources[i], options.MaxNewTokens);
        var found = new List<GeneratedCandidate>[sources.Count];
        for (int i = 0; i < found.Length; i++) found[i] = [];

        int perSource = options.Strategy switch { DecodingStrategy.Greedy => 1, DecodingStrategy.Beam => options.Beams, _ => options.Candidates };
        foreach (var group in Groups(encoded, perSource, splittable: options.Strategy != DecodingStrategy.Beam, options.MaxNewTokens))
        {
            int capacity = Math.Min(_model.MaxPositions, group.Max(w => encoded[w.Source].Ids.Length) + options.MaxNewTokens);
            var items = group.Select(w => (w, encoded[w.Source].Ids)).ToList();
            if (options.Strategy == DecodingStrategy.Beam) DecodeBeams(items, options, capacity, found);
            else DecodeIndependent(items, options, capacity, found);
        }
        var results = new GenerationResult[sources.Count];
        for (int i = 0; i < results.Length; i++) results[i] = new GenerationResult(sources[i], encoded[i].Truncated, [.. found[i]]);
        return results;
    }

    /// <summary>
    /// SimBERT's recipe: generate with <paramref name="options"/> (ask for more candidates than needed, e.g. 2n), drop
    /// empty candidates, exact copies of the source and duplicates, and keep the <paramref name="keep"/> most similar to
    /// the source by the model's own sentence vector (see <see cref="SentenceVectors"/>), by cosine, best first.
    /// </summary>
    public IReadOnlyList<GenerationResult> GenerateRanked(IReadOnlyList<string> sources, DecodingOptions options, int keep)
    {
        if (keep < 1 || keep > DecodingOptions.MaxCandidates) throw new SemblanceException($"n (candidates to keep) must be between 1 and {DecodingOptions.MaxCandidates}, got {keep}");
        var generated = Generate(sources, options);
        var ranked = new GenerationResult[generated.Count];
        for (int i = 0; i < generated.Count; i++)
        {
            var r = generated[i];
            var source = EncodeSource(r.Source, options.MaxNewTokens).Ids;
            var content = source.AsSpan(1, source.Length - 2).ToArray();
            var seen = new HashSet<string> { string.Join(',', content) };
            var kept = r.Candidates.Where(c => c.Ids.Length > 0 && seen.Add(string.Join(',', c.Ids))).ToList();
            if (kept.Count == 0)
            {
                ranked[i] = r with { Candidates = [] };
                continue;
            }
            var sequences = new List<int[]> { source };
            sequences.AddRange(kept.Select(c => (int[])[_tokenizer.ClsId, .. c.Ids, _tokenizer.SepId]));
            var vectors = SentenceVectors(sequences);
            ranked[i] = r with
            {
                Candidates = kept.Select((c, j) => c with { Similarity = TensorPrimitives.CosineSimilarity(vectors[0], vectors[j + 1]) })
                    .OrderByDescending(c => c.Similarity).Take(keep).ToArray(),
            };
        }
        return ranked;
    }

    /// <summary>
    /// The model's sentence vectors of whole token sequences (with [CLS]/[SEP]), bidirectional attention: the last
    /// layer's [CLS] row when the directory declares cls pooling or the checkpoint has no pooler, else the pooler output.
    /// </summary>
    public float[][] SentenceVectors(IReadOnlyList<int[]> sequences)
    {
        int h = _model.HiddenSize;
        var vectors = new float[sequences.Count][];
        for (int first = 0; first < sequences.Count; first += 64)
        {
            var chunk = sequences.Skip(first).Take(64).Select(s => s.Length > _model.MaxPositions ? s[.._model.MaxPositions] : s).ToList();
            var batch = TokenBatch.FromSequences(chunk);
            var output = _model.Forward(batch, new ForwardRequest(Pooler: _vectorIsPooler), _workspace, _ctx);
            for (int b = 0; b < chunk.Count; b++)
                vectors[first + b] = (_vectorIsPooler ? output.PoolerOutput.Slice(b * h, h) : output.LastHiddenState.Slice(batch.Offsets[b] * h, h)).ToArray();
        }
        return vectors;
    }

    /// <summary><c>[CLS] source [SEP]</c>, truncated so that <paramref name="maxNewTokens"/> still fit in the positions.</summary>
    private (int[] Ids, bool Truncated) EncodeSource(string source, int maxNewTokens)
    {
        int room = _model.MaxPositions - maxNewTokens;
        if (room < 2) throw new SemblanceException($"max new tokens {maxNewTokens} leaves no room for a source within the model's {_model.MaxPositions} positions");
        var full = _tokenizer.Encode(source, 0);
        return full.Length > room ? (_tokenizer.Encode(source, room).Ids, true) : (full.Ids, false);
    }

    /// <summary>A source's candidates <c>First .. First + Count − 1</c>.</summary>
    private readonly record struct WorkItem(int Source, int First, int Count);

    /// <summary>Work items in groups whose caches fit <see cref="CacheBudgetBytes"/> (a beam search's beams stay together).</summary>
    private IEnumerable<List<WorkItem>> Groups((int[] Ids, bool Truncated)[] encoded, int perSource, bool splittable, int maxNewTokens)
    {
        var group = new List<WorkItem>();
        int slots = 0;
        long rowBytes = 2L * _model.NumLayers * _model.HiddenSize * sizeof(float);
        for (int s = 0; s < encoded.Length; s++)
        {
            long perSlot = rowBytes * Math.Min(_model.MaxPositions, encoded[s].Ids.Length + maxNewTokens);
            int maxSlots = (int)Math.Clamp(CacheBudgetBytes / perSlot, 1, 4096);
            for (int first = 0; first < perSource;)
            {
                int count = splittable ? Math.Min(perSource - first, maxSlots) : perSource;
                if (slots > 0 && slots + count > maxSlots)
                {
                    yield return group;
                    group = [];
                    slots = 0;
                }
                group.Add(new WorkItem(s, first, count));
                slots += count;
                first += count;
            }
        }
        if (group.Count > 0) yield return group;
    }

    /// <summary>Greedy and sampled candidates: every slot decodes on its own until [SEP] or the token budget.</summary>
    private void DecodeIndependent(List<(WorkItem Item, int[] Source)> items, DecodingOptions options, int capacity, List<GeneratedCandidate>[] found)
    {
        int total = items.Sum(i => i.Item.Count), v = VocabSize;
        var state = CreateState(options.UseCache, total, capacity);
        var first = state.Start(items.Select(i => i.Source).ToList());
        var parents = new int[total];
        var owner = new int[total];
        var rngs = new SplitMix64[total];
        for (int k = 0, t = 0; k < items.Count; k++)
        {
            var (item, source) = items[k];
            ulong key = SourceKey(options.Seed, source);
            for (int c = 0; c < item.Count; c++, t++)
            {
                parents[t] = k;
                owner[t] = k;
                rngs[t] = new SplitMix64(key ^ (0x9E3779B97F4A7C15UL * (ulong)(item.First + c + 1)));
            }
        }
        state.Reorder(parents);
        var tokens = new List<int>[total];
        var logProbability = new double[total];
        var stops = new StopReason?[total];
        for (int t = 0; t < total; t++) tokens[t] = [];
        var active = Enumerable.Range(0, total).ToArray();
        var row = new float[v];
        var logits = first;
        bool fromStart = true;
        for (int step = 0; step < options.MaxNewTokens && active.Length > 0; step++)
        {
            var next = new int[active.Length];
            for (int a = 0; a < active.Length; a++)
            {
                int t = active[a];
                logits.AsSpan((fromStart ? owner[t] : a) * v, v).CopyTo(row);
                float logSum = LogSumExp(row);
                foreach (var b in _banned) row[b] = float.NegativeInfinity;
                int token = options.Strategy == DecodingStrategy.Greedy ? TensorPrimitives.IndexOfMax(row) : Sample(row, options, ref rngs[t]);
                logProbability[t] += row[token] - logSum;
                next[a] = token;
                if (token == _tokenizer.SepId) stops[t] = StopReason.Sep;
                else tokens[t].Add(token);
            }
            var stepSlots = active.Where((_, a) => next[a] != _tokenizer.SepId).ToArray();
            var stepTokens = next.Where(x => x != _tokenizer.SepId).ToArray();
            active = stepSlots;
            if (step + 1 == options.MaxNewTokens || active.Length == 0) break;
            logits = state.Step(stepSlots, stepTokens);
            fromStart = false;
        }
        for (int t = 0; t < total; t++)
            found[items[owner[t]].Item.Source].Add(new GeneratedCandidate([.. tokens[t]], Decode(tokens[t]), stops[t] ?? StopReason.MaxNewTokens, logProbability[t]));
    }

    /// <summary>
    /// Hugging Face's beam search (early_stopping false): per source, the best 2·beams (beam, token) continuations by
    /// summed log-probability; a [SEP] among the first beams closes a hypothesis scored sum / generated_length^penalty
    /// (the [SEP] counted); the rest continue as the new beams. A source is done when it holds beams hypotheses and the
    /// best continuation could no longer beat the worst of them; at the token limit the open beams close as they are.
    /// </summary>
    private void DecodeBeams(List<(WorkItem Item, int[] Source)> items, DecodingOptions options, int capacity, List<GeneratedCandidate>[] found)
    {
        int beams = options.Beams, sources = items.Count, total = sources * beams, v = VocabSize, sep = _tokenizer.SepId;
        var state = CreateState(options.UseCache, total, capacity);
        var logits = state.Start(items.Select(i => i.Source).ToList());
        var parents = new int[total];
        for (int t = 0; t < total; t++) parents[t] = t / beams;
        state.Reorder(parents);
        var beamTokens = new List<int>[total];
        var beamScores = new double[total];
        for (int t = 0; t < total; t++)
        {
            beamTokens[t] = [];
            beamScores[t] = t % beams == 0 ? 0 : -1e9;
        }
        var hypotheses = new List<(double Score, int[] Ids, double LogProbability, StopReason Stop)>[sources];
        var done = new bool[sources];
        for (int s = 0; s < sources; s++) hypotheses[s] = [];
        var row = new float[v];
        bool fromStart = true;
        var stepSlots = Enumerable.Range(0, total).ToArray();
        for (int step = 0; step < options.MaxNewTokens; step++)
        {
            var rowOf = new Dictionary<int, int>();
            for (int a = 0; a < stepSlots.Length; a++) rowOf[stepSlots[a]] = a;
            var nextParents = Enumerable.Range(0, total).ToArray();
            var nextTokens = new int[total];
            var nextScores = (double[])beamScores.Clone();
            for (int s = 0; s < sources; s++)
            {
                if (done[s]) continue;
                var pool = new List<(double Score, int Beam, int Token)>(2 * beams * beams);
                for (int b = 0; b < beams; b++)
                {
                    int t = s * beams + b;
                    logits.AsSpan((fromStart ? s : rowOf[t]) * v, v).CopyTo(row);
                    float logSum = LogSumExp(row);
                    foreach (var id in _banned) row[id] = float.NegativeInfinity;
                    foreach (var id in TopIds(row, Math.Min(2 * beams, v)))
                        if (!float.IsNegativeInfinity(row[id])) pool.Add((beamScores[t] + (row[id] - logSum), b, id));
                }
                pool.Sort((x, y) => y.Score != x.Score ? y.Score.CompareTo(x.Score) : (x.Beam * v + x.Token).CompareTo(y.Beam * v + y.Token));
                int generatedLength = step + 1, chosen = 0;
                for (int r = 0; r < Math.Min(pool.Count, 2 * beams) && chosen < beams; r++)
                {
                    var (score, b, token) = pool[r];
                    var parentTokens = beamTokens[s * beams + b];
                    if (token == sep)
                    {
                        if (r >= beams) continue;
                        AddHypothesis(hypotheses[s], beams, score / Math.Pow(generatedLength, options.LengthPenalty), [.. parentTokens], score, StopReason.Sep);
                        continue;
                    }
                    int slot = s * beams + chosen++;
                    nextParents[slot] = s * beams + b;
                    nextTokens[slot] = token;
                    nextScores[slot] = score;
                }
                if (hypotheses[s].Count >= beams && pool.Count > 0
                    && hypotheses[s].Min(h => h.Score) >= pool[0].Score / Math.Pow(generatedLength, options.LengthPenalty))
                    done[s] = true;
            }
            var newTokens = new List<int>[total];
            for (int t = 0; t < total; t++)
            {
                bool moved = !done[t / beams];
                newTokens[t] = moved ? [.. beamTokens[nextParents[t]], nextTokens[t]] : beamTokens[t];
                if (!moved) nextParents[t] = t;
            }
            beamTokens = newTokens;
            for (int t = 0; t < total; t++) if (!done[t / beams]) beamScores[t] = nextScores[t];
            stepSlots = Enumerable.Range(0, total).Where(t => !done[t / beams]).ToArray();
            if (step + 1 == options.MaxNewTokens || stepSlots.Length == 0) break;
            state.Reorder(nextParents);
            logits = state.Step(stepSlots, stepSlots.Select(t => nextTokens[t]).ToArray());
            fromStart = false;
        }
        for (int s = 0; s < sources; s++)
        {
            if (!done[s])
                for (int b = 0; b < beams; b++)
                {
                    int t = s * beams + b;
                    AddHypothesis(hypotheses[s], beams, beamScores[t] / Math.Pow(Math.Max(1, beamTokens[t].Count), options.LengthPenalty), [.. beamTokens[t]], beamScores[t], StopReason.MaxNewTokens);
                }
            foreach (var h in hypotheses[s].OrderByDescending(h => h.Score).Take(options.Candidates))
                found[items[s].Item.Source].Add(new GeneratedCandidate(h.Ids, Decode(h.Ids), h.Stop, h.LogProbability, h.Score));
        }
    }

    /// <summary>Keeps the best <paramref name="beams"/> finished hypotheses.</summary>
    private static void AddHypothesis(List<(double Score, int[] Ids, double LogProbability, StopReason Stop)> hypotheses, int beams, double score, int[] ids, double logProbability, StopReason stop)
    {
        if (hypotheses.Count >= beams && score <= hypotheses.Min(h => h.Score)) return;
        hypotheses.Add((score, ids, logProbability, stop));
        if (hypotheses.Count > beams)
        {
            int worst = 0;
            for (int i = 1; i < hypotheses.Count; i++) if (hypotheses[i].Score < hypotheses[worst].Score) worst = i;
            hypotheses.RemoveAt(worst);
        }
    }

    /// <summary>
    /// Draws a token from <paramref name="row"/> (raw logits with banned ids at −∞; overwritten) as Hugging Face's
    /// warpers shape it: divide by the temperature, keep the top k (ties with the k-th kept), keep the nucleus (tokens
    /// whose higher-ranked mass is below p, at least one), softmax, then one draw.
    /// </summary>
    private static int Sample(float[] row, DecodingOptions options, ref SplitMix64 rng)
    {
        if (options.Temperature != 1.0) TensorPrimitives.Multiply(row, (float)(1.0 / options.Temperature), row);
        int allowed = 0;
        foreach (var x in row) if (!float.IsNegativeInfinity(x)) allowed++;
        var keys = new float[allowed];
        var order = new int[allowed];
        for (int i = 0, j = 0; i < row.Length; i++)
            if (!float.IsNegativeInfinity(row[i]))
            {
                keys[j] = -row[i];
                order[j++] = i;
            }
        Array.Sort(keys, order);
        int count = allowed;
        if (options.TopK > 0 && options.TopK < count)
        {
            float kth = row[order[options.TopK - 1]];
            while (count > options.TopK && row[order[count - 1]] < kth) count--;
        }
        float max = row[order[0]];
        var probabilities = new double[count];
        double sum = 0;
        for (int j = 0; j < count; j++) sum += probabilities[j] = Math.Exp(row[order[j]] - max);
        int kept = count;
        if (options.TopP < 1)
        {
            double above = 0;
            for (int j = 0; j < count; j++)
            {
                if (j > 0 && above >= options.TopP)
                {
                    kept = j;
                    break;
                }
                above += probabilities[j] / sum;
            }
        }
        double mass = 0;
        for (int j = 0; j < kept; j++) mass += probabilities[j];
        double u = rng.NextDouble() * mass;
        for (int j = 0; j < kept; j++)
        {
            u -= probabilities[j];
            if (u < 0) return order[j];
        }
        return order[kept - 1];
    }

    private static float LogSumExp(ReadOnlySpan<float> row)
    {
        float max = TensorPrimitives.Max(row);
        double sum = 0;
        foreach (var x in row) sum += Math.Exp(x - max);
        return (float)(max + Math.Log(sum));
    }

    /// <summary>FNV-1a over the source's ids, mixed with the seed: the sampling key of a source, independent of batching.</summary>
    private static ulong SourceKey(ulong seed, int[] source)
    {
        ulong h = 14695981039346656037UL ^ seed;
        foreach (var id in source) h = (h ^ (uint)id) * 1099511628211UL;
        return h;
    }

    /// <summary>Steele, Lea and Flood's SplitMix64: a small, fast, seedable generator.</summary>
    private struct SplitMix64(ulong state)
    {
        private ulong _state = state;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>
    /// Teacher forcing through the decoding states (tests, benchmarks): <paramref name="ids"/>[..sourceLength] is encoded
    /// as the source, then the rest is fed one token per step; the logits [ids.Length − sourceLength + 1, V] of rows
    /// sourceLength − 1 .. ids.Length − 1.
    /// </summary>
    internal float[] TeacherForcedLogits(int[] ids, int sourceLength, bool useCache)
    {
        var state = CreateState(useCache, 1, ids.Length);
        var logits = new List<float>(state.Start([ids[..sourceLength]]));
        for (int p = sourceLength; p < ids.Length; p++) logits.AddRange(state.Step([0], [ids[p]]));
        return [.. logits];
    }

    private DecodingState CreateState(bool useCache, int slots, int capacity) =>
        useCache ? new CachedState(this, slots, capacity) : new RecomputedState(this, slots);

    /// <summary>The logits [rows.Length, VocabSize] of the given rows of a forward's last hidden state.</summary>
    private float[] HeadLogits(ReadOnlySpan<float> hidden, ReadOnlySpan<int> rows)
    {
        int h = _model.HiddenSize;
        var gathered = new float[rows.Length * h];
        for (int i = 0; i < rows.Length; i++) hidden.Slice(rows[i] * h, h).CopyTo(gathered.AsSpan(i * h, h));
        var logits = new float[rows.Length * VocabSize];
        _head.Forward(gathered, rows.Length, logits, _ctx);
        return logits;
    }

    private static int[] LastRows(TokenBatch batch) => Enumerable.Range(0, batch.BatchSize).Select(b => batch.Offsets[b + 1] - 1).ToArray();

    /// <summary>Sequences being decoded, slot by slot: source i starts in slot i; slots are then copied and extended.</summary>
    private abstract class DecodingState
    {
        /// <summary>Encodes source i into slot i; the logits [sources, V] of each source's last row.</summary>
        public abstract float[] Start(IReadOnlyList<int[]> sources);

        /// <summary>Slot t takes slot parents[t]'s sequence.</summary>
        public abstract void Reorder(int[] parents);

        /// <summary>Appends tokens[i] (type 1) to slots[i]; the logits [slots.Length, V] of the new rows.</summary>
        public abstract float[] Step(int[] slots, int[] tokens);
    }

    /// <summary>The KV-cache execution: one row per slot and step.</summary>
    private sealed class CachedState(MaskedLanguageModel owner, int slots, int capacity) : DecodingState
    {
        private readonly KeyValueCache _cache = owner._model.CreateCache(slots, capacity);

        public override float[] Start(IReadOnlyList<int[]> sources)
        {
            var batch = TokenBatch.FromSequences(sources);
            var output = owner._model.ForwardCached(batch, owner._workspace, owner._ctx, _cache, Enumerable.Range(0, sources.Count).ToArray());
            return owner.HeadLogits(output.LastHiddenState, LastRows(batch));
        }

        public override void Reorder(int[] parents) => _cache.Reorder(parents);

        public override float[] Step(int[] slots, int[] tokens)
        {
            var types = new int[tokens.Length];
            Array.Fill(types, 1);
            var batch = new TokenBatch(tokens, types, Enumerable.Range(0, tokens.Length + 1).ToArray());
            var output = owner._model.ForwardCached(batch, owner._workspace, owner._ctx, _cache, slots);
            return owner.HeadLogits(output.LastHiddenState, LastRows(batch));
        }
    }

    /// <summary>The reference execution: every step re-runs source + generated tokens under the UniLM mask.</summary>
    private sealed class RecomputedState(MaskedLanguageModel owner, int slots) : DecodingState
    {
        private List<int>[] _ids = new List<int>[slots];
        private readonly int[] _sourceLength = new int[slots];

        public override float[] Start(IReadOnlyList<int[]> sources)
        {
            for (int i = 0; i < sources.Count; i++)
            {
                _ids[i] = [.. sources[i]];
                _sourceLength[i] = sources[i].Length;
            }
            return Forward(Enumerable.Range(0, sources.Count).ToArray());
        }

        public override void Reorder(int[] parents)
        {
            var lengths = (int[])_sourceLength.Clone();
            var ids = (List<int>[])_ids.Clone();
            for (int t = 0; t < parents.Length; t++)
            {
                _ids[t] = [.. ids[parents[t]]];
                _sourceLength[t] = lengths[parents[t]];
            }
        }

        public override float[] Step(int[] slots, int[] tokens)
        {
            for (int i = 0; i < slots.Length; i++) _ids[slots[i]].Add(tokens[i]);
            return Forward(slots);
        }

        private float[] Forward(int[] slots)
        {
            var ids = slots.Select(s => _ids[s].ToArray()).ToList();
            var types = slots.Select(s => Enumerable.Range(0, _ids[s].Count).Select(p => p < _sourceLength[s] ? 0 : 1).ToArray()).ToList();
            var packed = TokenBatch.FromSequences(ids, types);
            var batch = new TokenBatch(packed.Ids, packed.TypeIds, packed.Offsets) { UsesSeq2SeqMask = true };
            var output = owner._model.Forward(batch, ForwardRequest.LastOnly, owner._workspace, owner._ctx);
            return owner.HeadLogits(output.LastHiddenState, LastRows(batch));
        }
    }
}
