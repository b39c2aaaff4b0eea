// The training loop: batches → GradCache step → clip → AdamW, with dev-STS evaluation, checkpoints and exact resume.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Semblance.Embeddings;
using Semblance.Evaluation;
using Semblance.IO;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Text;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>The outcome of a run: best dev Spearman ×100 (NaN without eval data) and optimizer steps done.</summary>
public sealed record TrainingResult(double BestSpearman, long Steps, bool Stopped);

/// <summary>
/// Trains a sentence encoder (BERT/RoFormer, or the GRU of <see cref="TrainableGru"/>) with the pooling of
/// <see cref="TrainerOptions.Pooling"/> (mean by default), which the saved model records. Output layout:
/// <c>OUTPUT/</c> holds the best model by dev Spearman (the latest when there is no dev set) in the Hugging Face
/// layout, so <c>semblance encode --model OUTPUT</c> loads it; <c>OUTPUT/last/</c> holds the latest checkpoint plus
/// optimizer.safetensors and trainer_state.json for <c>--resume</c>. Randomness (data order, dropout) is a pure
/// function of the seed, epoch and step, so a resumed run continues exactly as the uninterrupted one would.
/// </summary>
public sealed class Trainer
{
    public const string LastDir = "last";
    public const string StateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.safetensors";

    /// <summary>In last/: the loss's own weights (am-softmax-proxy's class proxies), for --resume.</summary>
    public const string LossWeightsFile = "loss.safetensors";
    private const string StateFormat = "semblance-trainer-state";
    private const int StateVersion = 1;
    private static readonly string[] TokenizerFiles = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    private readonly TrainerOptions _o;
    private readonly TextWriter _log;
    private ITrainableModel _model = null!;
    private int _vocabSize;
    private BertTokenizer _tokenizer = null!;
    private TrainingTokens _tokens = null!;
    private string _configJson = "";
    private List<(string Name, byte[] Content)> _tokenizerFiles = [];
    private int _maxLength;
    private Action<string> _writeModules = _ => { };
    private IReadOnlyList<Parameter> _lossParameters = [];

    public Trainer(TrainerOptions options, TextWriter log)
    {
        _o = options;
        _log = log;
    }

    public TrainingResult Run()
    {
        ClaimOutput(checkOnly: true);
        // Data errors print alone (before the model is read); pair-score labels are checked against the model's head, so later.
        var data = _o.Task == TrainingTask.PairScore ? null : TrainingData.Load(_o.DataPath, _o.Loss);
        LoadModel();
        if (_model is TrainableGru && _o.Loss.NeedsDropout)
            throw new SemblanceException($"--loss {_o.Loss} needs dropout to make two views of a sentence, and the GRU encoder has none; use {string.Join(", ", TrainingLosses.All.Where(l => !l.NeedsDropout))} with it");
        CheckRecipe();
        if (_model is PairScoringModel pair)
        {
            int labels = pair.Dimension, need = ((PairScoreLoss)_o.Loss.Create(_o.LossSettings)).Labels;
            if (need == 1 ? labels != 1 : labels < 2)
                throw new SemblanceException($"--loss {_o.Loss} needs a head with {(need == 1 ? "one output (num_labels 1)" : "two or more classes")}, but the model's has num_labels {labels}; {(need == 1 ? "use --loss ce, or" : "pass --num-labels N, or use")} {(need == 1 ? "start from an encoder" : "cosent|bce|mse")}");
        }
        data ??= TrainingData.Load(_o.DataPath, _o.Loss, new PairLabels(_o.MaxScore, Math.Max(1, _model.Dimension)));
        var dev = _o.EvalData is null ? null : StsDataset.Load(_o.EvalData);
        ClaimOutput(checkOnly: false);

        var epochs = Enumerable.Range(0, _o.Epochs).Select(e => data.Batches(_o.BatchSize, _o.Seed, e).Where(b => b.Length >= 2).ToList()).ToList();
        long totalSteps = epochs.Sum(e => (long)e.Count);
        if (totalSteps == 0) throw new InputFormatException($"{_o.DataPath}: {data.ExamplesPerEpoch} example(s) make no batch of at least 2 rows; add data");
        var schedule = new LearningRateSchedule(_o.LearningRate, _o.WarmupSteps, totalSteps, _o.Schedule);
        _tokens = new TrainingTokens(_tokenizer, _maxLength, _vocabSize);
        using var teacher = OpenTeacher();
        var settings = _o.LossSettings with { Classes = data.ClassCount, Dimension = _model.Dimension, Seed = _o.Seed };
        var trainingStep = new TrainingStep(_model, _o.Loss, settings, _tokens.Get, _o.Seed, _o.Accumulate, _o.MaxGradNorm, _o.WeightDecay,
            _o.Pooling, _o.CorruptRate, _tokenizer.MaskId ?? -1, teacher is null ? null : texts => teacher.EncodeFlat(texts), _tokens.GetPair,
            _o.EmbeddingLearningRateScale,
            _o.HeadLearningRate is { } headLr && _o.LearningRate > 0 ? headLr / _o.LearningRate : 1);
        _lossParameters = trainingStep.Objective.Parameters;
        var optimizer = trainingStep.Optimizer;
        var state = new State();
        if (_o.ResumeDir is not null) state = Restore(optimizer);

        using var context = new ComputeContext(Math.Max(1, _o.Threads));
        _log.WriteLine($"train: {_o.Loss} on {data.ExamplesPerEpoch} examples, {_o.Epochs} epoch(s) x {epochs[0].Count} batches of {_o.BatchSize} (accumulate {_o.Accumulate}), {totalSteps} steps{(state.Step > 0 ? $", resuming at step {state.Step}" : "")}");
        _log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"recipe: pooling {Pooling.Format(_o.Pooling)}, {LearningRateSchedule.Format(_o.Schedule)} schedule, weight decay {_o.WeightDecay}{(_o.EmbeddingLearningRateScale != 1 ? $", embedding lr x{_o.EmbeddingLearningRateScale}" : "")}{(_o.HeadLearningRate is double h ? $", head lr {h}" : "")}, max grad norm {(_o.MaxGradNorm > 0 ? _o.MaxGradNorm.ToString(CultureInfo.InvariantCulture) : "off")}{(_o.Dropout is double p ? $", dropout {p}" : "")}{(_o.Loss == TrainingLosses.SimCse ? $", simcse batch {(_o.SimCseBatch == SimCseBatch.Duplicate ? "duplicate" : "views")}" : "")}"));
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        int lossCount = 0, examples = 0;
        bool evaluatedAtStep = false;
        for (int epoch = state.Epoch; epoch < _o.Epochs; epoch++)
        {
            var batches = epochs[epoch];
            for (int b = epoch == state.Epoch ? state.Batch : 0; b < batches.Count; b++)
            {
                var rows = batches[b];
                double lr = schedule.At(state.Step);
                var result = trainingStep.Run(rows, state.Step, lr, context);
                double value = result.Loss;
                if (!double.IsFinite(value))
                    throw new SemblanceException($"step {state.Step + 1} (epoch {epoch + 1}, batch {b + 1}): the loss is {value}; training stopped. The last good checkpoint is kept in {Path.Combine(_o.OutputDir, LastDir)}{(state.Step > 0 ? "" : " (none yet)")}; lower --lr or check the data");
                if (!result.Updated)
                    throw new SemblanceException($"step {state.Step + 1} (epoch {epoch + 1}, batch {b + 1}): the gradient is not finite (loss {value}); training stopped. The last good checkpoint is kept in {Path.Combine(_o.OutputDir, LastDir)}; lower --lr");
                state.Step++;
                state.Epoch = epoch;
                state.Batch = b + 1;
                lossSum += value;
                lossCount++;
                examples += rows.Length;
                evaluatedAtStep = false;
                if (state.Step % 10 == 0 || state.Step == totalSteps)
                {
                    double seconds = Math.Max(1e-9, clock.Elapsed.TotalSeconds);
                    _log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {epoch + 1}/{_o.Epochs} step {state.Step}/{totalSteps} loss {lossSum / lossCount:F4} lr {lr:E2} {examples / seconds:F1} ex/s"));
                    lossSum = 0;
                    lossCount = 0;
                    examples = 0;
                    clock.Restart();
                }
                if (_o.EvalEvery > 0 && state.Step % _o.EvalEvery == 0)
                {
                    EvaluateAndSave(dev, state, optimizer, context);
                    evaluatedAtStep = true;
                }
                if (_o.StopAfterSteps is long stop && state.Step >= stop && state.Step < totalSteps)
                {
                    if (!evaluatedAtStep) SaveLast(state, optimizer);
                    _log.WriteLine($"stopped after step {state.Step}; continue with --resume {_o.OutputDir}");
                    return new TrainingResult(state.BestSpearman, state.Step, Stopped: true);
                }
            }
            state.Epoch = epoch + 1;
            state.Batch = 0;
            if (!evaluatedAtStep) EvaluateAndSave(dev, state, optimizer, context);
            evaluatedAtStep = false;
        }
        return new TrainingResult(state.BestSpearman, state.Step, Stopped: false);
    }

    /// <summary>
    /// Dev Spearman ×100 of cosine(pooled embeddings; mean unless <paramref name="pooling"/> says otherwise) against gold
    /// scores, without dropout: the inference batch loop (<see cref="LengthSortedBatches"/>) over the tape without a
    /// graph, scored by <see cref="StsEvaluator"/>.
    /// </summary>
    internal static double Evaluate(ITrainableModel model, Func<string, TokenizedText> tokenize, StsDataset dev, ComputeContext context, int batchSize = 64,
        PoolingMode pooling = PoolingMode.Mean)
    {
        var vectors = new float[(long)dev.Sentences.Count * model.Dimension];
        var tape = new Tape(context, recording: false);
        LengthSortedBatches.Embed(dev.Sentences, vectors, model.Dimension, batchSize, context, tokenize,
            (batch, pooled) => model.Encode(tape, batch, pooling).Data.AsSpan().CopyTo(pooled), CancellationToken.None);
        return StsEvaluator.Evaluate(dev, vectors, model.Dimension, Pooling.Format(pooling), StsWhitening.None, [0])[0].Spearman;
    }

    /// <summary>One-line errors for recipe choices the model cannot run (checked before any output is written).</summary>
    private void CheckRecipe()
    {
        if (_model is TrainableGru)
        {
            if (_o.Pooling is not (PoolingMode.Mean or PoolingMode.LastAvg))
                throw new SemblanceException($"--pooling {Pooling.Format(_o.Pooling)}: the GRU encoder pools as its config.json's \"pooling\" says (mean or last)");
            if (_o.Dropout is not null) throw new SemblanceException("--dropout: the GRU encoder has no dropout");
        }
        if (_model is TrainableTransformer t)
        {
            if (Pooling.UsesPoolerLayer(_o.Pooling) && !t.HasPooler)
                throw new SemblanceException($"--pooling {Pooling.Format(_o.Pooling)} needs a pooler layer (pooler.dense.weight), which this {t.Config.ModelType} model does not have; use cls, mean, first-last-avg or last-avg");
            t.DropoutOverride = _o.Dropout;
            bool noDropout = (_o.Dropout ?? Math.Max(t.Config.HiddenDropoutProb, t.Config.AttentionProbsDropoutProb)) <= 0;
            if (noDropout && _o.Loss.NeedsDropout)
                throw new SemblanceException($"--loss {_o.Loss} needs dropout to make two views of a sentence, and the dropout here is 0; give --dropout P > 0");
        }
        if (_o.Loss.Pooling != PoolingMode.Mean && _o.Pooling != _o.Loss.Pooling)
            throw new SemblanceException($"--loss {_o.Loss} trains {Pooling.Format(_o.Loss.Pooling)} vectors; --pooling {Pooling.Format(_o.Pooling)} does not apply to it");
        if (_o.SimCseBatch == SimCseBatch.Duplicate && _o.Loss != TrainingLosses.SimCse)
            throw new SemblanceException($"--simcse-batch duplicate applies to --loss simcse only, not {_o.Loss}");
    }

    /// <summary>
    /// A cross-encoder's score of each pair (<see cref="PairScoringModel.ScoreOf"/>), without dropout, through the
    /// inference batch loop; the dev Spearman of a pair-score run is <see cref="Correlation.Spearman"/> of these against gold.
    /// </summary>
    internal static double[] PairScores(PairScoringModel model, Func<StsPair, TokenizedText> tokenize, IReadOnlyList<StsPair> pairs, ComputeContext context, int batchSize = 64)
    {
        int labels = model.Dimension;
        var logits = new float[(long)pairs.Count * labels];
        var tape = new Tape(context, recording: false);
        LengthSortedBatches.Embed(pairs, logits, labels, batchSize, context, tokenize,
            (batch, output) => model.Encode(tape, batch, PoolingMode.Cls).Data.AsSpan().CopyTo(output), CancellationToken.None);
        return Enumerable.Range(0, pairs.Count).Select(i => PairScoringModel.ScoreOf(logits.AsSpan(i * labels, labels))).ToArray();
    }

    private void EvaluateAndSave(StsDataset? dev, State state, AdamW optimizer, ComputeContext context)
    {
        if (dev is not null)
        {
            double spearman = _model is PairScoringModel pair
                ? 100 * Correlation.Spearman(PairScores(pair, p => _tokens.TokenizePair(p.Sentence1, p.Sentence2), dev.Pairs, context), dev.Gold)
                : Evaluate(_model, _tokens.Tokenize, dev, context, pooling: _o.Pooling);
            bool better = double.IsNaN(state.BestSpearman) || spearman > state.BestSpearman;
            if (better)
            {
                state.BestSpearman = spearman;
                state.BestStep = state.Step;
                SaveModel(_o.OutputDir);
            }
            _log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {state.Step}: dev spearman {spearman:F2} (best {state.BestSpearman:F2} at step {state.BestStep})"));
        }
        else
        {
            SaveModel(_o.OutputDir);
        }
        SaveLast(state, optimizer);
    }

    /// <summary>The ownership rule (<see cref="OutputDirectory"/>): an earlier run's output is replaced only with --force or --resume.</summary>
    private void ClaimOutput(bool checkOnly)
    {
        bool replace = _o.Force || _o.ResumeDir is not null;
        const string hint = "pass --resume to continue that run or --force to replace its model, or choose a new directory";
        if (checkOnly) OutputDirectory.Check(_o.OutputDir, OutputDirectory.ModelKind, replace, hint, HasCheckpoint);
        else OutputDirectory.Claim(_o.OutputDir, OutputDirectory.ModelKind, replace, hint, HasCheckpoint);
    }

    private static bool HasCheckpoint(string directory) => File.Exists(Path.Combine(directory, LastDir, StateFile));

    /// <summary>config.json, model.safetensors and the tokenizer files: a Hugging Face model directory.</summary>
    private void SaveModel(string dir)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, TransformerLoader.ConfigFileName), _configJson);
        foreach (var (name, content) in _tokenizerFiles) AtomicFile.Write(Path.Combine(dir, name), s => s.Write(content));
        var writer = new SafeTensorsWriter();
        foreach (var p in _model.Parameters) writer.Add(_model.CheckpointName(p), p.Shape, p.Data);
        writer.Save(Path.Combine(dir, ModelWeights.SingleFileName));
        _writeModules(dir);
    }

    /// <summary>Writes last/ beside the output as a whole: a new directory, then renamed over the old one.</summary>
    private void SaveLast(State state, AdamW optimizer)
    {
        string last = Path.Combine(_o.OutputDir, LastDir), temp = last + ".tmp", old = last + ".old";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        SaveModel(temp);
        var writer = new SafeTensorsWriter();
        writer.Metadata["step"] = optimizer.Step.ToString(CultureInfo.InvariantCulture);
        foreach (var (name, m, v) in optimizer.State.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            writer.Add("exp_avg." + name, [m.Length], m);
            writer.Add("exp_avg_sq." + name, [v.Length], v);
        }
        writer.Save(Path.Combine(temp, OptimizerFile));
        if (_lossParameters.Count > 0)
        {
            var loss = new SafeTensorsWriter();
            foreach (var p in _lossParameters) loss.Add(p.Name, p.Shape, p.Data);
            loss.Save(Path.Combine(temp, LossWeightsFile));
        }
        var json = new JsonObject
        {
            ["format"] = StateFormat,
            ["version"] = StateVersion,
            ["loss"] = _o.Loss.Name,
            ["task"] = TrainingLosses.TaskName(_o.Task),
            ["step"] = state.Step,
            ["epoch"] = state.Epoch,
            ["batch_in_epoch"] = state.Batch,
            ["seed"] = _o.Seed,
            ["best_dev_spearman"] = double.IsNaN(state.BestSpearman) ? null : state.BestSpearman,
            ["best_step"] = state.BestStep,
        };
        AtomicFile.WriteAllText(Path.Combine(temp, StateFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(last)) Directory.Move(last, old);
        Directory.Move(temp, last);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    private void LoadModel()
    {
        string source;
        if (_o.ResumeDir is not null)
        {
            source = ResumeCheckpoint(_o.ResumeDir);
            string? expected = _o.ModelDir is not null ? TrainableModels.Describe(Path.Combine(_o.ModelDir, TransformerLoader.ConfigFileName))
                : _o.InitConfig is not null ? TrainableModels.Describe(_o.InitConfig) : null;
            string found = TrainableModels.Describe(Path.Combine(source, TransformerLoader.ConfigFileName));
            if (expected is not null && expected != found)
                throw new ModelFormatException($"--resume {_o.ResumeDir}: the checkpoint is {found}, but the model given is {expected}; resume with the same architecture");
        }
        else if (_o.ModelDir is not null)
        {
            source = _o.ModelDir;
        }
        else
        {
            if (_o.Task == TrainingTask.PairScore) throw new SemblanceException("--task pair-score starts from a checkpoint: give --model DIR (a BERT/RoFormer encoder or a *ForSequenceClassification model), not --init");
            var configPath = _o.InitConfig ?? throw new SemblanceException("train needs --model DIR, or --init CONFIG.json with --vocab FILE");
            var vocab = _o.VocabPath ?? throw new SemblanceException("--init needs --vocab FILE (a vocab.txt for the new model)");
            var model = _o.Loss.TrainsMaskedLmHead
                ? TrainableTransformer.InitializeWithMaskedLmHead(TransformerConfig.Load(configPath), _o.Seed)
                : TrainableModels.Initialize(configPath, _o.Seed);
            int vocabSize = model.VocabSize, maxPositions = model.MaxPositions;
            _model = model;
            _configJson = model is TrainableGru gru ? gru.Config.ToJson() : File.ReadAllText(configPath);
            _tokenizer = BertTokenizer.FromVocabFile(vocab);
            if (_tokenizer.VocabSize > vocabSize)
                throw new ModelFormatException($"{vocab}: {_tokenizer.VocabSize} tokens, more than vocab_size {vocabSize} in {configPath}");
            _tokenizerFiles =
            [
                ("vocab.txt", File.ReadAllBytes(vocab)),
                ("tokenizer_config.json", System.Text.Encoding.UTF8.GetBytes(new JsonObject
                {
                    ["tokenizer_class"] = "BertTokenizer", ["do_lower_case"] = _tokenizer.DoLowerCase, ["model_max_length"] = maxPositions,
                }.ToJsonString() + "\n")),
            ];
            _vocabSize = vocabSize;
            _maxLength = MaxSentenceLength(maxPositions);
            _configJson = MaskedLmConfig(_configJson);
            _writeModules = dir => SentenceTransformersConfig.WriteRecordedPooling(dir, _o.Pooling);
            return;
        }
        var configFile = Path.Combine(source, TransformerLoader.ConfigFileName);
        if (_o.Task == TrainingTask.PairScore)
        {
            _tokenizer = BertTokenizer.Load(source);
            _tokenizerFiles = TokenizerFiles.Where(f => File.Exists(Path.Combine(source, f))).Select(f => (f, File.ReadAllBytes(Path.Combine(source, f)))).ToList();
            // A resumed run's checkpoint already has its head; --num-labels is checked against it as against any head.
            var scorer = TrainableTransformer.LoadPairScorer(source, _o.NumLabels, _o.Seed, _o.AllowNonFinite);
            (_model, _vocabSize, _maxLength) = (new PairScoringModel(scorer, _tokenizer.SepId), scorer.VocabSize, Math.Min(_o.MaxLength, scorer.MaxPositions));
            _configJson = SequenceClassificationConfig(File.ReadAllText(configFile), scorer);
            return;
        }
        var loaded = LoadTrainable(source, configFile);
        (_model, _vocabSize, _maxLength) = (loaded, loaded.VocabSize, MaxSentenceLength(loaded.MaxPositions));
        _tokenizer = BertTokenizer.Load(source);
        _configJson = MaskedLmConfig(File.ReadAllText(configFile));
        _tokenizerFiles = TokenizerFiles.Where(f => File.Exists(Path.Combine(source, f))).Select(f => (f, File.ReadAllBytes(Path.Combine(source, f)))).ToList();
        _writeModules = ModulesWriter(source);
    }

    /// <summary>The --teacher encoder (one thread), checked to give vectors of the trained model's width.</summary>
    private SentenceEncoder? OpenTeacher()
    {
        if (_o.TeacherModel is null) return null;
        if (!_o.Loss.TrainsMaskedLmHead) throw new SemblanceException($"--teacher distils SimBERT's [CLS] vector; --loss {_o.Loss} does not take it");
        var teacher = SentenceEncoder.Load(_o.TeacherModel, new EncoderOptions { Threads = 1 });
        if (teacher.Dimension != _model.Dimension)
        {
            teacher.Dispose();
            throw new SemblanceException($"--teacher {_o.TeacherModel}: its vectors have {teacher.Dimension} dimensions, the model's [CLS] vector {_model.Dimension}; distillation needs equal widths");
        }
        return teacher;
    }

    /// <summary>The checkpoint's model; for a loss that trains a masked-LM head, with the head (a fresh one if it has none).</summary>
    private ITrainableModel LoadTrainable(string source, string configFile)
    {
        if (!_o.Loss.TrainsMaskedLmHead) return TrainableModels.Load(source, _o.AllowNonFinite);
        if (GruConfig.Declares(configFile))
            throw new ModelFormatException($"{configFile}: --loss {_o.Loss} trains a BERT or RoFormer model with a masked-LM head, not a {GruConfig.ModelTypeName} encoder");
        var model = TrainableTransformer.LoadWithMaskedLmHead(source, _o.Seed, out bool initialized, _o.AllowNonFinite);
        if (initialized)
            _log.WriteLine($"note: {source} has no masked-LM head (cls.predictions.*); starting one tied to the word embeddings (seed {_o.Seed})");
        return model;
    }

    /// <summary>Tokens per sentence: --max-length, and for a seq2seq pair loss at most half the positions (both sentences share one sequence).</summary>
    private int MaxSentenceLength(int maxPositions) =>
        Math.Max(2, Math.Min(_o.MaxLength, _o.Loss.TrainsMaskedLmHead ? (maxPositions + 1) / 2 : maxPositions));

    /// <summary>config.json as saved: a model trained with a masked-LM head says *ForMaskedLM in its architectures.</summary>
    private string MaskedLmConfig(string json)
    {
        if (_model is not TrainableTransformer { HasMaskedLmHead: true } t) return json;
        var root = JsonNode.Parse(json) as JsonObject ?? throw new ModelFormatException("config.json: expected a JSON object");
        root["architectures"] = new JsonArray(TrainableTransformer.MaskedLmArchitecture(t.Config));
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>
    /// The start model's config.json as transformers' *ForSequenceClassification config: architectures, num_labels,
    /// id2label and label2id (kept when the start model already names its labels and their count agrees).
    /// </summary>
    private static string SequenceClassificationConfig(string json, TrainableTransformer model)
    {
        var root = JsonNode.Parse(json) as JsonObject ?? throw new ModelFormatException("config.json: expected a JSON object");
        int labels = model.NumLabels;
        var names = model.Config.Id2Label.Count == labels ? model.Config.Id2Label : Enumerable.Range(0, labels).Select(i => $"LABEL_{i}").ToList();
        root["architectures"] = new JsonArray(TrainableTransformer.SequenceClassificationArchitecture(model.Config));
        root["num_labels"] = labels;
        var id2label = new JsonObject();
        var label2id = new JsonObject();
        for (int i = 0; i < labels; i++)
        {
            id2label[i.ToString(CultureInfo.InvariantCulture)] = names[i];
            label2id[names[i]] = i;
        }
        root["id2label"] = id2label;
        root["label2id"] = label2id;
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>
    /// What every saved model gets of the start model's sentence-transformers modules (pooling, normalisation,
    /// max_seq_length, prompts), so the trained model encodes the way the one it started from did, with the pooling it
    /// was trained with: the Pooling module says it when sentence-transformers has it (cls, mean, max); every saved
    /// model also records it in semblance_pooling.json, which Semblance reads first (first-last-avg, pooler and
    /// pooler-linear exist only there). A note is printed when the start model's pooling differs.
    /// </summary>
    private Action<string> ModulesWriter(string source)
    {
        var st = SentenceTransformersConfig.Read(source);
        var trained = _o.Pooling;
        bool hasModules = File.Exists(Path.Combine(source, "modules.json"));
        int dimension = _model is TrainableTransformer t ? t.Config.HiddenSize : 0;
        var module = SentenceTransformersConfig.ClosestModule(trained);
        if (st.PoolingConfigPath is { } poolingPath)
        {
            string before;
            try
            {
                before = Pooling.Format(st.RecordedPooling ?? Pooling.LoadSentenceTransformersConfig(poolingPath, dimension > 0 ? dimension : null));
            }
            catch (ModelFormatException e)
            {
                before = $"unreadable ({e.Message})";
            }
            if (before != Pooling.Format(trained) && !(trained is PoolingMode.Mean or PoolingMode.LastAvg && before is "mean" or "last-avg"))
                _log.WriteLine($"note: {poolingPath} says pooling {before}, but training pools with {Pooling.Format(trained)}; the saved model says {Pooling.Format(trained)}");
        }
        if (hasModules && module != trained && !(trained == PoolingMode.LastAvg))
            _log.WriteLine($"note: sentence-transformers has no '{Pooling.Format(trained)}' pooling; the saved 1_Pooling/config.json says {Pooling.Format(module)} (what sentence-transformers would use), semblance_pooling.json says {Pooling.Format(trained)} (what Semblance uses)");
        return dir =>
        {
            SentenceTransformersConfig.Write(dir, hasModules ? module : null, st.Normalize, st.MaxSeqLength, dimension);
            SentenceTransformersConfig.WriteRecordedPooling(dir, trained);
            if (st.Prompts.Count > 0 || File.Exists(Path.Combine(source, "config_sentence_transformers.json")))
                SentenceTransformersConfig.WritePrompts(dir, st.Prompts, st.DefaultPromptName);
        };
    }

    /// <summary>The checkpoint directory of a --resume argument: OUTPUT/last, or a last/ directory itself.</summary>
    private static string ResumeCheckpoint(string dir)
    {
        foreach (var candidate in new[] { Path.Combine(dir, LastDir), dir })
            if (File.Exists(Path.Combine(candidate, StateFile))) return candidate;
        throw new SemblanceException($"--resume {dir}: no {StateFile} in {Path.Combine(dir, LastDir)} or {dir}; expected the output directory of an earlier semblance train run");
    }

    private State Restore(AdamW optimizer)
    {
        var dir = ResumeCheckpoint(_o.ResumeDir!);
        var statePath = Path.Combine(dir, StateFile);
        static ModelFormatException Error(string m) => new(m);
        var root = StrictJson.ReadNode(statePath, Error) as JsonObject ?? throw new ModelFormatException($"{statePath}: expected a JSON object");
        T Field<T>(string name) => StrictJson.Field<T>(root, name, statePath, Error)!;
        if (StrictJson.Field<string>(root, "format", statePath, Error, optional: true) != StateFormat || Field<int>("version") != StateVersion)
            throw new ModelFormatException($"{statePath}: expected format \"{StateFormat}\" version {StateVersion}");
        string loss = Field<string>("loss");
        if (loss != _o.Loss.Name) throw new SemblanceException($"--resume {_o.ResumeDir}: the checkpoint was trained with --loss {loss}, not {_o.Loss}");
        // States written before the pair-score task existed have no "task": they are embedding runs.
        string task = StrictJson.Field<string>(root, "task", statePath, Error, optional: true) ?? TrainingLosses.TaskName(TrainingTask.Embedding);
        if (task != TrainingLosses.TaskName(_o.Task)) throw new SemblanceException($"--resume {_o.ResumeDir}: the checkpoint was trained with --task {task}, not {TrainingLosses.TaskName(_o.Task)}");
        var state = new State
        {
            Step = Field<long>("step"),
            Epoch = Field<int>("epoch"),
            Batch = Field<int>("batch_in_epoch"),
            BestSpearman = root["best_dev_spearman"] is null ? double.NaN : Field<double>("best_dev_spearman"),
            BestStep = Field<long>("best_step"),
        };
        if (_lossParameters.Count > 0)
        {
            var lossPath = Path.Combine(dir, LossWeightsFile);
            if (!File.Exists(lossPath)) throw new ModelFormatException($"{lossPath}: not found; --loss {_o.Loss} keeps its own weights there");
            var saved = SafeTensorsContent.Read(lossPath);
            foreach (var p in _lossParameters)
            {
                var values = saved.Get(p.Name, p.Shape);
                values.CopyTo(p.Data, 0);
                p.MarkUpdated();
            }
        }
        var moments = SafeTensorsContent.Read(Path.Combine(dir, OptimizerFile));
        if (!long.TryParse(moments.RequireMetadata("step"), NumberStyles.None, CultureInfo.InvariantCulture, out long step))
            throw new ModelFormatException($"{Path.Combine(dir, OptimizerFile)}: __metadata__ step is not a non-negative integer");
        var entries = moments.Names.Where(n => n.StartsWith("exp_avg.", StringComparison.Ordinal))
            .Select(n => n["exp_avg.".Length..])
            .Select(name => (name, moments.Get("exp_avg." + name, -1), moments.Get("exp_avg_sq." + name, -1)));
        optimizer.Restore(step, entries);
        return state;
    }

    private sealed class State
    {
        public long Step;
        public int Epoch;
        public int Batch;
        public double BestSpearman = double.NaN;
        public long BestStep;
    }
}
