// Linear products on 16-bit weight panels: widened in registers per tile, or per task into a float32 panel.
namespace Semblance.Numerics;

/// <summary>How a Linear product reads 16-bit panels (<see cref="PackedWeight.Format"/> Float16 or BFloat16).</summary>
internal enum HalfPanelMode
{
    /// <summary>In registers at Vector512, widened once per task below it (measured: docs/BENCHMARKS.md).</summary>
    Auto,
    /// <summary><see cref="WideningMicroKernel.Tile512"/>: every tile widens the rows it reads (Vector512 only).</summary>
    Registers,
    /// <summary>Each task widens its panels' K-block once into a float32 scratch panel, then runs the float32 kernel.</summary>
    Widened,
}

internal static unsafe partial class Gemm
{
    private static readonly HalfPanelMode ConfiguredHalfMode =
        Enum.TryParse<HalfPanelMode>(Environment.GetEnvironmentVariable("SEMBLANCE_HALF_PANELS"), ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            ? mode : HalfPanelMode.Auto;

    /// <summary>This thread's choice of <see cref="HalfPanelMode"/>, over SEMBLANCE_HALF_PANELS (tests compare the modes).</summary>
    [ThreadStatic] internal static HalfPanelMode? ForcedHalfMode;

    /// <summary>The 16-bit panels of one Linear call (inactive for a float32 weight).</summary>
    private readonly struct HalfPanels
    {
        private readonly SimdLevel _level;
        private readonly WeightFormat _format;
        private readonly HalfPanelMode _mode;
        private readonly ushort* _w;
        private readonly int _k, _panels;

        public HalfPanels(SimdLevel level, PackedWeight w)
        {
            if (w.Format == WeightFormat.Float32) return;
            _level = level;
            _format = w.Format;
            _w = w.Data16.Pointer;
            _k = w.InFeatures;
            _panels = w.PanelCount;
            var mode = ForcedHalfMode ?? ConfiguredHalfMode;
            _mode = level != SimdLevel.Vector512 || mode == HalfPanelMode.Widened ? HalfPanelMode.Widened : HalfPanelMode.Registers;
        }

        public bool IsActive => _w != null;

        /// <summary>
        /// The task's panels [first, first + count) at K-block [pc, pc + kc) widened into this thread's scratch (panel
        /// after panel, kc × 32 floats each), or null when the tiles widen in registers.
        /// </summary>
        public float* WidenTask(int first, int count, int pc, int kc)
        {
            if (_w == null || _mode != HalfPanelMode.Widened) return null;
            float* dst = Scratch.Get(count * kc * MicroKernel.Width);
            for (int j = 0; j < count; j++)
                WideningMicroKernel.WidenPanel(_level, _format, Panel(first + j, pc), MicroKernel.Width, kc, dst + (long)j * kc * MicroKernel.Width);
            return dst;
        }

        private ushort* Panel(int panel, int pc) => _w + ((long)panel * _k + pc) * MicroKernel.Width;

        /// <summary>One register tile on panel <paramref name="panel"/>, widened in registers; prefetches the panel <paramref name="ahead"/> further.</summary>
        public void RunTile(int rows, float* a, nint lda, int panel, int ahead, int pc, float* c, nint ldc, int width, int kc, bool accumulate, float* tile)
        {
            ushort* b = Panel(panel, pc);
            ushort* next = panel + ahead < _panels ? b + (long)ahead * _k * MicroKernel.Width : b;
            if (width == MicroKernel.Width)
            {
                WideningMicroKernel.Tile512(_format, rows, a, lda, b, MicroKernel.Width, c, ldc, kc, accumulate, next);
                return;
            }
            if (accumulate)
                for (int i = 0; i < rows; i++)
                    new ReadOnlySpan<float>(c + i * ldc, width).CopyTo(new Span<float>(tile + i * MicroKernel.Width, width));
            WideningMicroKernel.Tile512(_format, rows, a, lda, b, MicroKernel.Width, tile, MicroKernel.Width, kc, accumulate, next);
            for (int i = 0; i < rows; i++)
                new ReadOnlySpan<float>(tile + i * MicroKernel.Width, width).CopyTo(new Span<float>(c + i * ldc, width));
        }
    }
}
