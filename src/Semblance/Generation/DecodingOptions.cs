// How a masked-LM generator picks tokens: greedy, sampling (temperature, top-k, top-p, seed) or beam search, with the
// limits every caller (CLI, server, library) shares.
using System.Text.Json;

namespace Semblance.Generation;

/// <summary>How the next token is chosen.</summary>
public enum DecodingStrategy
{
    /// <summary>The most likely allowed token at every step; one candidate per source.</summary>
    Greedy,

    /// <summary>Random draws from the (temperature, top-k, top-p)-processed distribution, deterministic for a seed.</summary>
    Sample,

    /// <summary>Beam search (Hugging Face's: 2·beams candidates per step, length-penalised finished hypotheses).</summary>
    Beam,
}

/// <summary>
/// Decoding settings. Defaults: RoFormer-Sim's sampling (top-p 0.95, temperature 1), 24 new tokens, the KV cache on.
/// <see cref="Validate"/> names the first bad field.
/// </summary>
public sealed record DecodingOptions
{
    /// <summary>The most candidates one source may ask for (-n, the server's "n").</summary>
    public const int MaxCandidates = 64;

    /// <summary>The most beams a beam search may keep.</summary>
    public const int MaxBeams = 64;

    public DecodingStrategy Strategy { get; init; } = DecodingStrategy.Sample;

    /// <summary>Candidates per source (greedy: 1; beams: at most <see cref="Beams"/>).</summary>
    public int Candidates { get; init; } = 1;

    public int Beams { get; init; } = 4;

    /// <summary>Hugging Face's length_penalty: a finished hypothesis scores sum(log p) / generated_length^penalty.</summary>
    public double LengthPenalty { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens before sampling; 0 = off.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p (nucleus sampling); 1 = off.</summary>
    public double TopP { get; init; } = 0.95;

    public double Temperature { get; init; } = 1.0;

    /// <summary>Sampling seed: candidate c of a source draws from a generator keyed by (seed, the source's tokens, c), so results do not depend on batching.</summary>
    public ulong Seed { get; init; }

    /// <summary>Generation stops after this many tokens when no [SEP] came.</summary>
    public int MaxNewTokens { get; init; } = 24;

    /// <summary>Keep each layer's keys and values (one row per step); false recomputes the whole sequence every step (same tokens, slower).</summary>
    public bool UseCache { get; init; } = true;

    /// <summary>Throws a <see cref="SemblanceException"/> naming the first setting out of range.</summary>
    public void Validate(int maxPositions)
    {
        if (Candidates < 1 || Candidates > MaxCandidates)
            throw new SemblanceException($"n (candidates per source) must be between 1 and {MaxCandidates}, got {Candidates}");
        if (MaxNewTokens < 1) throw new SemblanceException($"max new tokens must be at least 1, got {MaxNewTokens}");
        if (maxPositions - MaxNewTokens < 2)
            throw new SemblanceException($"max new tokens {MaxNewTokens} leaves no room for a source within the model's {maxPositions} positions (at most {maxPositions - 2})");
        switch (Strategy)
        {
            case DecodingStrategy.Greedy when Candidates != 1:
                throw new SemblanceException($"greedy decoding gives one candidate per source, {Candidates} were asked for; sample or use beams for more");
            case DecodingStrategy.Beam:
                if (Beams < 1 || Beams > MaxBeams) throw new SemblanceException($"beams must be between 1 and {MaxBeams}, got {Beams}");
                if (Candidates > Beams) throw new SemblanceException($"beam search returns at most one candidate per beam: n {Candidates} needs at least {Candidates} beams, got {Beams}");
                if (!double.IsFinite(LengthPenalty)) throw new SemblanceException($"length penalty must be a finite number, got {LengthPenalty}");
                break;
            case DecodingStrategy.Sample:
                if (!(TopP > 0 && TopP <= 1)) throw new SemblanceException($"top-p must be in (0, 1], got {TopP}");
                if (TopK < 0) throw new SemblanceException($"top-k must be at least 1 (0 = off), got {TopK}");
                if (!(Temperature > 0) || !double.IsFinite(Temperature)) throw new SemblanceException($"temperature must be a positive finite number, got {Temperature}");
                break;
        }
    }
}

/// <summary>
/// One generated sentence: its ids (without the final [SEP]) and text, why it stopped, its log-probability under the
/// model (sum over the generated tokens and the final [SEP] of log-softmax of the raw logits), the beam score when beam
/// search made it, and its cosine to the source when ranked.
/// </summary>
public sealed record GeneratedCandidate(int[] Ids, string Text, StopReason Stop, double LogProbability, double? BeamScore = null, float? Similarity = null);

/// <summary>The candidates of one source, best first for beams and ranking, in draw order for sampling.</summary>
public sealed record GenerationResult(string Source, bool SourceTruncated, GeneratedCandidate[] Candidates)
{
    /// <summary>"sep" or "max_new_tokens", as the CLI and the server print it.</summary>
    public static string StopName(StopReason stop) => stop == StopReason.Sep ? "sep" : "max_new_tokens";

    /// <summary>
    /// The JSON shape the CLI prints per line and the server returns per source:
    /// <c>{"source", "candidates": [{"text", "ids", "stop", "logprob"[, "score"][, "similarity"]}]}</c>
    /// (score: beam search's length-penalised score; similarity: the cosine to the source when ranked).
    /// </summary>
    public void WriteJson(Utf8JsonWriter w) => WriteJson(w, null);

    /// <summary>As <see cref="WriteJson(Utf8JsonWriter)"/>, with an <c>"index"</c> member first when given (the server's list entries).</summary>
    public void WriteJson(Utf8JsonWriter w, int? index)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        if (index is int i) w.WriteNumber("index", i);
        w.WriteString("source", Source);
        w.WriteStartArray("candidates");
        foreach (var c in Candidates)
        {
            w.WriteStartObject();
            w.WriteString("text", c.Text);
            w.WriteStartArray("ids");
            foreach (var id in c.Ids) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteString("stop", StopName(c.Stop));
            w.WriteNumber("logprob", Math.Round(c.LogProbability, 6));
            if (c.BeamScore is { } score) w.WriteNumber("score", Math.Round(score, 6));
            if (c.Similarity is { } similarity) w.WriteNumber("similarity", Math.Round(similarity, 6));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
