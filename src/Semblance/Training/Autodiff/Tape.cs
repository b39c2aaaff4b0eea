// Reverse-mode automatic differentiation: operations record their backward step on a tape that runs in reverse.
using Semblance.Numerics;

namespace Semblance.Training.Autodiff;

/// <summary>
/// A tape of backward closures. Every operation (the partial files Tape.*.cs) computes its forward result
/// immediately and, when recording and some input requires a gradient, appends a closure that reads the
/// result's gradient and adds into its inputs' gradients. <see cref="Backward(Tensor)"/> runs the closures in
/// reverse order, which is a topological order of the graph because each result is created after its inputs.
/// A tape that is not recording is the "no graph" mode: same forward values, nothing kept.
/// </summary>
internal sealed partial class Tape
{
    private readonly List<Action> _backward = [];
    private readonly List<Tensor?> _results = [];
    private readonly Dictionary<int, Stack<float[]>> _free = [];
    private readonly List<string>? _names = TapeProfile.Enabled ? [] : null;
    private long _lastRecord = TapeProfile.Enabled ? TapeProfile.Now() : 0;

    public Tape(ComputeContext? context = null, bool recording = true)
    {
        Context = context ?? ComputeContext.Single;
        IsRecording = recording;
    }

    public ComputeContext Context { get; }

    public bool IsRecording { get; }

    /// <summary>Recorded backward steps not yet run.</summary>
    public int Count => _backward.Count;

    private bool Tracks(Tensor a) => IsRecording && a.RequiresGrad;

    private bool Tracks(Tensor a, Tensor b) => IsRecording && (a.RequiresGrad || b.RequiresGrad);

    private bool Tracks(Tensor a, Tensor b, Tensor c) => IsRecording && (a.RequiresGrad || b.RequiresGrad || c.RequiresGrad);

    private void Record(Action backward, [System.Runtime.CompilerServices.CallerMemberName] string op = "") => Record(null, backward, op);

    /// <summary>
    /// Records the backward step of the operation that produced <paramref name="result"/>. The result's gradient
    /// then comes from this tape's buffers and goes back to them once the step has run (see <see cref="Backward(Tensor, ReadOnlySpan{float})"/>).
    /// </summary>
    private void Record(Tensor? result, Action backward, [System.Runtime.CompilerServices.CallerMemberName] string op = "")
    {
        _backward.Add(backward);
        _results.Add(result);
        if (result is not null) result.Owner = this;
        if (_names is null) return;
        _names.Add(op);
        long now = TapeProfile.Now();
        TapeProfile.Add(op, forward: true, now - _lastRecord);
        _lastRecord = now;
    }

    /// <summary>A buffer of exactly <paramref name="length"/> floats, recycled from a released gradient when one fits; not cleared.</summary>
    internal float[] Rent(int length) =>
        _free.TryGetValue(length, out var stack) && stack.Count > 0 ? stack.Pop() : GC.AllocateUninitializedArray<float>(length);

    private void Return(float[] buffer)
    {
        if (!_free.TryGetValue(buffer.Length, out var stack)) _free[buffer.Length] = stack = new Stack<float[]>();
        stack.Push(buffer);
    }

    /// <summary>Back-propagates from a 1x1 <paramref name="loss"/> (seed 1) and clears the tape.</summary>
    public void Backward(Tensor loss)
    {
        if (loss.Length != 1) throw new ArgumentException($"Backward needs a 1x1 loss, got {loss.Rows}x{loss.Cols}; pass a seed gradient for other outputs", nameof(loss));
        Backward(loss, [1f]);
    }

    /// <summary>
    /// Back-propagates a given d(objective)/d(<paramref name="output"/>) and clears the tape. Gradients stay on leaf
    /// tensors (parameters, and tensors made outside the tape); those of the tape's own results are released.
    /// </summary>
    public void Backward(Tensor output, ReadOnlySpan<float> seed)
    {
        if (seed.Length != output.Length) throw new ArgumentException($"seed has {seed.Length} values, the output {output.Length}", nameof(seed));
        if (!output.RequiresGrad) throw new InvalidOperationException("the output does not depend on any tensor that requires a gradient (or the tape was not recording)");
        var g = output.GradBuffer();
        for (int i = 0; i < g.Length; i++) g[i] += seed[i];
        for (int i = _backward.Count - 1; i >= 0; i--)
        {
            long start = _names is null ? 0 : TapeProfile.Now();
            _backward[i]();
            if (_names is not null) TapeProfile.Add(_names[i], forward: false, TapeProfile.Now() - start);
            // Every consumer of this result ran before it, so its gradient is spent: reuse the buffer for the
            // gradients still to come (PyTorch likewise keeps .grad only on leaves).
            if (_results[i]?.TakeGrad() is { } spent) Return(spent);
        }
        Clear();
    }

    /// <summary>
    /// A custom operation: <paramref name="value"/> is its forward result, and <paramref name="backward"/> receives
    /// d(objective)/d(result) and must add into the inputs' <see cref="Tensor.GradBuffer"/>s. Used by fused loss
    /// heads whose gradient has a closed form.
    /// </summary>
    public Tensor Function(Tensor[] inputs, float[] value, int rows, int cols, Action<float[]> backward)
    {
        var result = new Tensor(value, rows, cols, IsRecording && inputs.Any(t => t.RequiresGrad));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is { } g) backward(g);
            });
        return result;
    }

    /// <summary>Drops the recorded steps without running them (the graph is not needed after all).</summary>
    public void Clear()
    {
        _backward.Clear();
        _results.Clear();
        _names?.Clear();
        if (_names is not null) _lastRecord = TapeProfile.Now();
    }

    /// <summary>Elements (or rows) per task below which an element-wise step stays on one thread.</summary>
    private const int MinPerTask = 16384;

    /// <summary>
    /// Runs <paramref name="body"/>(start, count) over contiguous ranges of [0, <paramref name="length"/>), one per
    /// thread when there is enough work. Each index belongs to exactly one range and the per-element work does not
    /// depend on the split, so results do not depend on the thread count.
    /// </summary>
    private void ForRanges(int length, Action<int, int> body, int minPerTask = MinPerTask)
    {
        int tasks = Math.Min(Context.Threads, length / Math.Max(1, minPerTask));
        if (tasks <= 1)
        {
            body(0, length);
            return;
        }
        Context.For(tasks, t =>
        {
            int size = length / tasks, extra = length % tasks;
            body(t * size + Math.Min(t, extra), size + (t < extra ? 1 : 0));
        });
    }

    /// <summary>t.grad += g, split over threads (a first contribution is copied).</summary>
    private void Accumulate(Tensor t, float[] g)
    {
        bool overwrite = t.GradIsZero;
        var target = overwrite ? t.GradBufferToOverwrite() : t.GradBuffer();
        ForRanges(g.Length, (start, count) =>
        {
            var dst = target.AsSpan(start, count);
            if (overwrite) g.AsSpan(start, count).CopyTo(dst);
            else System.Numerics.Tensors.TensorPrimitives.Add(dst, g.AsSpan(start, count), dst);
        });
    }

    private static void AddInto(float[] target, ReadOnlySpan<float> values) =>
        System.Numerics.Tensors.TensorPrimitives.Add(target, values, target);
}
