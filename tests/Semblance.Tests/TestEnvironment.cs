// Settings that hold for the whole test assembly: no test may reach the real Hugging Face hub.
using System.Runtime.CompilerServices;

namespace Semblance.Tests;

internal static class TestEnvironment
{
    /// <summary>
    /// Model ids that are neither local nor cached would otherwise be downloaded from huggingface.co; tests that
    /// exercise downloads pass explicit <c>HubSettings</c> pointing at the loopback fake hub.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize() => Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
}
