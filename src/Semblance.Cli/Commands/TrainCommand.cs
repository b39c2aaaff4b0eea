// `semblance train`: fine-tune or train from scratch a BERT/RoFormer or GRU sentence encoder, or (--task pair-score) a
// cross-encoder from a BERT/RoFormer checkpoint; prints best_dev_spearman last (with --eval-data).
using System.Globalization;
using Semblance.Training;

namespace Semblance.Cli.Commands;

public sealed class TrainCommand : CliCommand
{
    public override string Name => "train";

    public override string Summary => $"train a sentence encoder ({string.Join("|", TrainingLosses.Names)}) or a cross-encoder (--task pair-score: {string.Join("|", TrainingLosses.PairScoring.Select(l => l.Name))}) in the Hugging Face layout";

    private static readonly string[] LossNames = [.. TrainingLosses.Names.Union(TrainingLosses.PairScoring.Select(l => l.Name))];

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--model", "DIR", "model directory to fine-tune (BERT/RoFormer, or a semblance-gru checkpoint)"),
        new("--init", "CONFIG.json", "train from scratch: config.json of the new model, bert/roformer or semblance-gru (with --vocab)"),
        new("--vocab", "FILE", "vocab.txt for --init"),
        new("--task", "TASK", "embedding (a sentence encoder, the default) | pair-score (a cross-encoder: both texts in one sequence, a classification head on top)"),
        new("--data", "FILE", "simcse/flatnce: one sentence per line; sup-simcse: a<TAB>b[<TAB>hard negative]; cosent: a<TAB>b<TAB>score (0..5); simbert: a<TAB>b (similar sentences); am-softmax, am-softmax-proxy: text<TAB>group; pair-score: text<TAB>text_pair<TAB>label"),
        new("--loss", "LOSS", $"embedding: {string.Join("|", TrainingLosses.Names)}; pair-score: {string.Join("|", TrainingLosses.PairScoring.Select(l => l.Name))}"),
        new("--num-labels", "N", "pair-score: outputs of a new classification head (default 1; ce needs 2 or more); a checkpoint's head keeps its own"),
        new("--max-score", "M", "pair-score bce/mse: targets are label / M, which must lie in [0, 1] (default 1; 5 for STS scores)"),
        new("--output", "DIR", "where the best model (and last/ for --resume) is written"),
        new("--epochs", "N", "passes over the data (default 1)"),
        new("--batch-size", "B", "rows per optimizer step, the in-batch negatives (default 64)"),
        new("--accumulate", "K", "embed each batch in K chunks with exact gradients (GradCache; default 1)"),
        new("--lr", "LR", "peak learning rate (default 5e-5)"),
        new("--head-lr", "LR", "simbert: peak learning rate of the masked-LM head's transform and bias; pair-score: of the pooler and classifier; same schedule (default: --lr); a fresh head starts random"),
        new("--warmup", "STEPS", "linear warm-up steps, then linear decay to 0 (default 0)"),
        new("--max-length", "N", "tokens per sentence incl. [CLS]/[SEP] (default 64, at most max_position_embeddings)"),
        new("--temperature", "T", "simcse/sup-simcse/flatnce temperature (default 0.05)"),
        new("--margin", "M", "am-softmax(-proxy) additive margin (default 0.3; the GRU post: 0.35)"),
        new("--scale", "S", "cosent / am-softmax(-proxy) / simbert scale s, logits = s·cos; pair-score cosent: λ on the pair logits (default 20; simbert and am-softmax-proxy 30)"),
        new("--corrupt", "RATE", "simbert: mask or delete this share of source tokens, RoFormer-Sim's denoising (default 0)"),
        new("--teacher", "MODEL", "simbert: distil the [CLS] vector from this encoder's vectors (MSE), as RoFormer-Sim does"),
        new("--seed", "S", "seed of data order, dropout and --init weights (default 42)"),
        new("--pooling", "P", $"sentence vector the loss sees, recorded in the saved model: {Semblance.Embeddings.Pooling.CliNames} (default mean; simbert: cls)"),
        new("--dropout", "P", "hidden and attention dropout while training (default: config.json's hidden_dropout_prob / attention_probs_dropout_prob)"),
        new("--schedule", "KIND", $"learning rate after the warm-up: {LearningRateSchedule.CliNames} (default linear decay to 0)"),
        new("--weight-decay", "W", "AdamW decoupled weight decay, not on biases and LayerNorm (default 0.01)"),
        new("--embedding-lr-scale", "K", "the token-embedding table learns at K × --lr (default 1), e.g. for new vocabulary rows"),
        new("--max-grad-norm", "N", "clip the global gradient norm to N; 0 = no clipping (default 1.0)"),
        new("--simcse-batch", "views|duplicate", "simcse: B×B cross-view similarities, or 2B×2B over duplicated sentences with the diagonal masked (default views)"),
        new("--eval-data", "DEV.tsv", "STS dev file (sentence1<TAB>sentence2<TAB>score) for Spearman and best-checkpoint selection"),
        new("--eval-every", "STEPS", "evaluate and checkpoint every STEPS steps (default: each epoch end)"),
        new("--resume", "DIR", "continue a stopped run from its output directory"),
        EncoderArgs.AllowNonFinite,
        new("--force", null, "replace the model an earlier run left in --output (otherwise an existing output is refused)"),
        new("--threads", "N", "worker threads (default: all cores)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        args.Require("--loss");
        var task = args.Choice("--task", "embedding", "embedding", "pair-score") == "pair-score" ? TrainingTask.PairScore : TrainingTask.Embedding;
        var loss = TrainingLosses.Get(args.Choice("--loss", "", LossNames), task);
        if (task != TrainingTask.PairScore && (args.Has("--num-labels") || args.Has("--max-score")))
            throw new UsageException("--num-labels and --max-score apply to --task pair-score only");
        if (args.Has("--head-lr") && !loss.TrainsMaskedLmHead && task != TrainingTask.PairScore)
            throw new UsageException($"--head-lr sets the rate of a head on the encoder (simbert's masked-LM head, --task pair-score's classifier); --loss {loss} has no head");
        if (args.Has("--model") && args.Has("--init")) throw new UsageException("give either --model DIR or --init CONFIG.json --vocab FILE, not both");
        if (!args.Has("--model") && !args.Has("--init") && !args.Has("--resume")) throw new UsageException("missing --model DIR (or --init CONFIG.json --vocab FILE)");
        if (args.Has("--init") && !args.Has("--vocab")) throw new UsageException("--init needs --vocab FILE");
        var options = new TrainerOptions
        {
            Loss = loss,
            NumLabels = args.Has("--num-labels") ? args.GetInt("--num-labels", 1, 1, 1 << 16) : null,
            MaxScore = args.GetDouble("--max-score", 1, 1e-9, 1e9),
            DataPath = args.Require("--data"),
            OutputDir = args.Require("--output"),
            ModelDir = args.Get("--model") is { } modelArg ? Semblance.Embeddings.ModelLocator.Resolve(modelArg) : null,
            InitConfig = args.Get("--init"),
            VocabPath = args.Get("--vocab"),
            Epochs = args.GetInt("--epochs", 1, 1),
            BatchSize = args.GetInt("--batch-size", 64, 2, 1 << 20),
            Accumulate = args.GetInt("--accumulate", 1, 1, 1 << 20),
            LearningRate = args.GetDouble("--lr", 5e-5, 0, 10),
            HeadLearningRate = args.Has("--head-lr") ? args.GetDouble("--head-lr", 5e-5, 0, 10) : null,
            WarmupSteps = args.GetInt("--warmup", 0, 0),
            MaxLength = args.GetInt("--max-length", 64, 2, 1 << 16),
            Temperature = (float)args.GetDouble("--temperature", 0.05, 1e-4, 100),
            Margin = (float)args.GetDouble("--margin", 0.3, 0, 2),
            Scale = args.Has("--scale") ? (float)args.GetDouble("--scale", 20, 1e-3, 1000) : null,
            CorruptRate = args.GetDouble("--corrupt", 0, 0, 0.9),
            TeacherModel = args.Get("--teacher") is { } teacherArg ? Semblance.Embeddings.ModelLocator.Resolve(teacherArg) : null,
            Seed = args.GetInt("--seed", 42),
            Pooling = args.Get("--pooling") is { } pooling ? Semblance.Embeddings.Pooling.Parse(pooling) : loss.Pooling,
            Dropout = args.Has("--dropout") ? args.GetDouble("--dropout", 0.1, 0, 0.99) : null,
            Schedule = LearningRateSchedule.Parse(args.Get("--schedule") ?? "linear"),
            WeightDecay = args.GetDouble("--weight-decay", 0.01, 0, 10),
            MaxGradNorm = args.GetDouble("--max-grad-norm", 1.0, 0, 1e6),
            EmbeddingLearningRateScale = args.GetDouble("--embedding-lr-scale", 1, 1e-3, 1e4),
            SimCseBatch = args.Choice("--simcse-batch", "views", ["views", "duplicate"]) == "duplicate" ? SimCseBatch.Duplicate : SimCseBatch.Views,
            EvalData = args.Get("--eval-data"),
            EvalEvery = args.GetInt("--eval-every", 0, 0),
            ResumeDir = args.Get("--resume"),
            Force = args.Has("--force"),
            AllowNonFinite = args.Has("--allow-nonfinite"),
            Threads = args.GetInt("--threads", Environment.ProcessorCount, 1, 1024),
        };
        var result = new Trainer(options, io.Err).Run();
        // Without --eval-data there is no dev score to report: say what was kept instead of printing nan.
        io.Out.WriteLine(options.EvalData is null
            ? $"trained: {options.OutputDir} holds the final weights (no --eval-data, so no dev Spearman and no best-checkpoint selection)"
            : "best_dev_spearman=" + (double.IsNaN(result.BestSpearman) ? "nan" : result.BestSpearman.ToString("F2", CultureInfo.InvariantCulture)));
        return 0;
    }
}
