// Which SIMD code path the kernels take, chosen from the hardware and overridable per thread for tests.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Numerics;

/// <summary>Instruction-set tiers the kernels are written for, widest first.</summary>
internal enum SimdLevel
{
    Scalar = 0,
    /// <summary>128-bit FMA: ARM64 AdvSimd (and x86 without AVX2); GEMM only, the other kernels run scalar code.</summary>
    Vector128 = 1,
    Vector256 = 2,
    Vector512 = 3,
}

/// <summary>
/// Resolves the path once per public call on the calling thread and hands it to the workers with the job, so
/// a test can force a path with <see cref="Force"/> without affecting tests running on other threads.
/// </summary>
internal static class Simd
{
    /// <summary>
    /// The widest tier this machine runs natively (Vector256 and Vector128 also need a hardware FMA),
    /// capped by the environment variable SEMBLANCE_SIMD (Vector512, Vector256, Vector128 or Scalar) when it is set,
    /// which lets a benchmark or a bug report compare tiers in one process-wide switch.
    /// </summary>
    public static SimdLevel Best { get; } = Cap(
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? SimdLevel.Vector512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? SimdLevel.Vector256
        : Vector128.IsHardwareAccelerated && (Fma.IsSupported || AdvSimd.Arm64.IsSupported) ? SimdLevel.Vector128
        : SimdLevel.Scalar,
        Environment.GetEnvironmentVariable("SEMBLANCE_SIMD"));

    [ThreadStatic] private static SimdLevel? _forced;

    private static SimdLevel Cap(SimdLevel hardware, string? setting) =>
        Enum.TryParse<SimdLevel>(setting, ignoreCase: true, out var cap) && Enum.IsDefined(cap) && cap < hardware ? cap : hardware;

    public static SimdLevel Current => _forced is { } f && f < Best ? f : Best;

    public static bool IsSupported(SimdLevel level) => level <= Best;

    /// <summary>Restricts this thread's calls to <paramref name="level"/> (or below) until the scope is disposed.</summary>
    public static Scope Force(SimdLevel level)
    {
        var previous = _forced;
        _forced = level;
        return new Scope(previous);
    }

    public readonly struct Scope(SimdLevel? previous) : IDisposable
    {
        public void Dispose() => _forced = previous;
    }
}
