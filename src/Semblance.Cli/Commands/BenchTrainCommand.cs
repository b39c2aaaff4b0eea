// `semblance bench train`: sustained training throughput (forward, loss, backward, clip, AdamW) without checkpoints.
using System.Diagnostics;
using System.Globalization;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Text;
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Cli.Commands;

public sealed class BenchTrainCommand : CliCommand
{
    public override string Name => "bench train";

    public override string Summary => "measure training throughput (full optimizer steps, nothing saved); last line: examples_per_s=<float> tokens_per_s=<float>";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--model", "DIR", "BERT/RoFormer model directory to fine-tune"),
        new("--init", "CONFIG.json", "a fresh model from this config.json (with --vocab)"),
        new("--vocab", "FILE", "vocab.txt for --init"),
        new("--data", "FILE", "training data in the format `train` reads for --loss (required)"),
        new("--loss", "LOSS", string.Join("|", TrainingLosses.Names) + " (default simcse)"),
        new("--batch-size", "B", "rows per optimizer step (default 64)"),
        new("--max-length", "N", "tokens per sentence incl. [CLS]/[SEP] (default 32)"),
        new("--steps", "N", "timed optimizer steps (default 20)"),
        new("--warmup-steps", "N", "untimed optimizer steps first (default 2)"),
        new("--threads", "N", "worker threads (default: all cores)"),
        new("--seed", "S", "seed of --init weights and dropout (default 42)"),
        new("--profile", null, $"time every tape operation and print the table on stderr (or set {TapeProfile.Variable}=1)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var loss = TrainingLosses.Get(args.Choice("--loss", TrainingLosses.SimCse.Name, [.. TrainingLosses.Names]));
        if (args.Has("--model") && args.Has("--init")) throw new UsageException("give either --model DIR or --init CONFIG.json --vocab FILE, not both");
        if (!args.Has("--model") && !args.Has("--init")) throw new UsageException("missing --model DIR (or --init CONFIG.json --vocab FILE)");
        if (args.Has("--init") && !args.Has("--vocab")) throw new UsageException("--init needs --vocab FILE");
        var dataPath = args.Require("--data");
        int batchSize = args.GetInt("--batch-size", 64, 2, 1 << 20);
        int maxLength = args.GetInt("--max-length", 32, 2, 1 << 16);
        int steps = args.GetInt("--steps", 20, 1, 1 << 24);
        int warmup = args.GetInt("--warmup-steps", 2, 0, 1 << 24);
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1, 1024);
        int seed = args.GetInt("--seed", 42);

        if (args.Has("--profile")) TapeProfile.Enabled = true;
        var data = TrainingData.Load(dataPath, loss);
        var (model, tokenizer, vocabSize, maxPositions, description) = LoadModel(args, seed);
        var tokens = new TrainingTokens(tokenizer, Math.Min(maxLength, maxPositions), vocabSize);
        var defaults = new TrainerOptions { Loss = loss, DataPath = dataPath, OutputDir = "" };
        var settings = defaults.LossSettings with { Classes = data.ClassCount, Dimension = model.Dimension, Seed = seed };
        var trainingStep = new TrainingStep(model, loss, settings, tokens.Get, seed, defaults.Accumulate, defaults.MaxGradNorm, defaults.WeightDecay);

        // Rows in file order, cycling, as the PyTorch twin (bench/train/torch_train_bench.py) takes them, so both
        // see the same sentences; am-softmax draws its same-group pairs as `train` does.
        var rows = data.Groups is null ? data.Rows.ToList() : Enumerable.Range(0, 4).SelectMany(e => data.Batches(batchSize, seed, e)).SelectMany(b => b).ToList();
        if (rows.Count < 2) throw new InputFormatException($"{dataPath}: {rows.Count} example(s); a contrastive step needs at least 2 rows");
        TrainingRow[] BatchAt(int step) => Enumerable.Range(0, batchSize).Select(i => rows[(int)(((long)step * batchSize + i) % rows.Count)]).ToArray();

        using var context = new ComputeContext(threads);
        var inv = CultureInfo.InvariantCulture;
        io.Out.WriteLine(string.Create(inv, $"model={args.Get("--model") ?? args.Get("--init")} {description} loss={loss} batch_size={batchSize} max_length={tokens.MaxLength} threads={threads} rows={rows.Count}"));
        io.Out.Flush();

        var phases = new double[3];
        long examples = 0, tokenCount = 0, sequences = 0;
        double lossValue = double.NaN, elapsed = 0;
        var cpuStart = TimeSpan.Zero;
        for (int step = 0; step < warmup + steps; step++)
        {
            var batch = BatchAt(step);
            if (step == warmup)
            {
                TapeProfile.Reset();
                cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
            }
            var result = trainingStep.Run(batch, step, defaults.LearningRate, context);
            lossValue = result.Loss;
            if (!result.Updated) throw new SemblanceException($"step {step + 1}: the loss is {result.Loss} and the gradient norm {result.GradientNorm}; lower the learning rate or check the data");
            if (step < warmup) continue;
            phases[0] += result.Forward.TotalSeconds;
            phases[1] += result.Backward.TotalSeconds;
            phases[2] += result.Optimizer.TotalSeconds;
            elapsed += (result.Forward + result.Backward + result.Optimizer).TotalSeconds;
            examples += batch.Length;
            foreach (var row in batch)
            {
                sequences += row.Texts.Length;
                foreach (var text in row.Texts) tokenCount += tokens.Get(text).Length;
            }
            if ((step - warmup + 1) % 10 == 0)
            {
                io.Out.WriteLine(string.Create(inv, $"progress: {step - warmup + 1}/{steps} steps, loss {lossValue:F4}, {examples / elapsed:F1} ex/s"));
                io.Out.Flush();
            }
        }
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        if (TapeProfile.Enabled) TapeProfile.Report(io.Err, steps);
        io.Out.WriteLine(string.Create(inv, $"elapsed_s={elapsed:F3} steps={steps} examples={examples} tokens={tokenCount} mean_tokens_per_sentence={(double)tokenCount / Math.Max(1, sequences):F2} loss={lossValue:F4} cpu_s={cpu:F3} examples_per_cpu_s={examples / cpu:F2}"));
        io.Out.WriteLine(string.Create(inv, $"ms_per_step={1000 * elapsed / steps:F1} forward_ms={1000 * phases[0] / steps:F1} backward_ms={1000 * phases[1] / steps:F1} optimizer_ms={1000 * phases[2] / steps:F1}"));
        io.Out.WriteLine(string.Create(inv, $"examples_per_s={examples / elapsed:F2} tokens_per_s={tokenCount / elapsed:F2}"));
        return 0;
    }

    private static (ITrainableModel Model, BertTokenizer Tokenizer, int VocabSize, int MaxPositions, string Description) LoadModel(CommandArgs args, int seed)
    {
        var dir = args.Get("--model") is { } modelArg ? Semblance.Embeddings.ModelLocator.Resolve(modelArg) : null;
        var configPath = dir is not null ? Path.Combine(dir, TransformerLoader.ConfigFileName) : args.Require("--init");
        var tokenizer = dir is not null ? BertTokenizer.Load(dir) : BertTokenizer.FromVocabFile(args.Require("--vocab"));
        var model = dir is not null ? TrainableModels.Load(dir) : TrainableModels.Initialize(configPath, seed);
        int vocabSize = model.VocabSize, maxPositions = model.MaxPositions;
        string description = model switch
        {
            TrainableGru gru => gru.Config.Describe(),
            TrainableTransformer { Config: var c } => string.Create(CultureInfo.InvariantCulture,
                $"hidden={c.HiddenSize} layers={c.NumHiddenLayers} heads={c.NumAttentionHeads} intermediate={c.IntermediateSize} vocab={c.VocabSize}"),
            _ => model.GetType().Name,
        };
        if (dir is null && tokenizer.VocabSize > vocabSize)
            throw new ModelFormatException($"{args.Get("--vocab")}: {tokenizer.VocabSize} tokens, more than vocab_size {vocabSize} in {configPath}");
        return (model, tokenizer, vocabSize, maxPositions, description);
    }
}
